import Foundation
import Testing
import Formats
import Models
import Tensor
@testable import Pipeline
import SmallWorld
import TestSupport

// Smoke runs of both pretraining stages on a tiny world: a few steps, the loss must fall, and
// the weights must come out in the upstream layouts the loaders read.

@Suite(.serialized) struct PretrainingTests {
    static let world: String = {
        let dir = scratchPath("world")
        var o = SmallWorldSynth.Options()
        o.train = 60
        o.evalPerSplit = 8
        _ = try! SmallWorldSynth.generate(o, into: dir)
        return dir
    }()

    /// Losses logged in metrics.jsonl, in step order.
    func losses(_ folder: String) throws -> [Double] {
        try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(whereSeparator: \.isNewline).map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["loss"] as! Double
        }
    }

    func falls(_ l: [Double]) -> Bool { l.suffix(4).reduce(0, +) < l.prefix(4).reduce(0, +) }

    @Test func encoderLossFallsAndTheEncoderLoads() throws {
        let run = scratchPath("enc")
        var config = CLIPVisionConfig.smallWorld
        config.numHiddenLayers = 1
        try EncoderPretraining.run(data: try SmallWorldDataset(folder: Self.world), out: run,
                                   options: PretrainOptions(steps: 16, batch: 8, learningRate: 2e-3, checkpointEvery: 8), resume: false, config: config)
        let l = try losses(run + "/encoder-training")
        #expect(l.count == 16 && falls(l), "encoder losses \(l)")
        let encoder = ImageEncoder(model: try CLIPVision.load(run + "/encoder"))
        #expect(encoder.embed([Image(width: 32, height: 32, color: [10, 200, 30])]).shape == [1, 64])
        // The shipped encoder's preprocessor_config.json is what pretrain-encoder writes.
        let written = try Data(contentsOf: URL(fileURLWithPath: run + "/encoder/" + EncoderPretraining.preprocessorFile))
        let shipped = try Data(contentsOf: repositoryRoot.appendingPathComponent("models/small-world/encoder/" + EncoderPretraining.preprocessorFile))
        #expect(try JSONSerialization.jsonObject(with: written) as? NSDictionary == JSONSerialization.jsonObject(with: shipped) as? NSDictionary)
    }

    @Test func baseLossFallsAndTheEditorLoads() throws {
        let run = scratchPath("base")
        var config = FluxConfig.small
        config.numLayers = 1; config.numSingleLayers = 1
        let data = try SmallWorldDataset(folder: Self.world)
        // In latents: per-batch losses in pixels swing with the pictures' contrast, too much for
        // 16 steps of 4 grids to show a fall.
        try BasePretraining.run(data: data, out: run, options: PretrainOptions(steps: 16, batch: 4, learningRate: 2e-3, checkpointEvery: 8),
                                resume: false, config: config, lossSpace: .latents)
        let l = try losses(run + "/base-training")
        #expect(l.count == 16 && falls(l), "base losses \(l)")
        let model = try FluxTransformer.load(run + "/base")
        let (settings, codec) = try BaseEditorSettings.read(base: run + "/base")
        // The codec's factor is written out, so a later default cannot change what this base reads.
        var expected = BasePretraining.settings
        expected.downsampling = BaseEditorSettings.defaultDownsampling
        expected.lossSpace = .latents
        (expected.flowSource, expected.flowSourceNoise) = (.context, BasePretraining.contextSourceNoise)
        expected.trainingTimesteps = .logitNormal(mean: 1.5 + log(10), std: 1)
        #expect(settings == expected && codec is WhitenedSpaceToDepthCodec && codec.downsampling == expected.factor)
        let samples = Array(data.samples(.seen).prefix(2))
        let score = try BasePretraining.evaluate(model, settings: settings, codec: codec, data: data, samples: samples, steps: 2)
        #expect(score.psnr.isFinite && score.psnr > 0 && score.inputPSNR.isFinite)
        let copy = try BasePretraining.evaluate(model, settings: settings, codec: codec, data: data, samples: samples, steps: 1, copy: true)
        #expect(copy.psnr.isFinite && copy.inputPSNR == 100)

        // A second stage starts from these weights and keeps the codec.
        let second = run + "-stage2"
        try BasePretraining.run(data: data, out: second, options: PretrainOptions(steps: 2, batch: 4, learningRate: 1e-3, checkpointEvery: 8),
                                resume: false, from: run + "/base")
        let next = try BaseEditorSettings.read(base: second + "/base")
        // Its loss space is its own (by default the pictures'), recorded for its adapters.
        #expect(next.settings.lossSpace == .pixels)
        // Its adapters train and sample in its loss space, from where its flow starts.
        let onIt = try LoRWeBModel.create(basePath: second + "/base", encoderPath: repositoryRoot.appendingPathComponent("models/small-world/encoder").path,
                                          n: 2, r: 1, keysDim: 4, seed: 1)
        #expect(onIt.lossSpace == .pixels && onIt.flowStart == .context(noise: BasePretraining.contextSourceNoise))
        #expect(onIt.trainingTimesteps == .logitNormal(mean: 1.5 + log(10), std: 1))
        #expect((next.codec as! WhitenedSpaceToDepthCodec).whiten.toArray() == (codec as! WhitenedSpaceToDepthCodec).whiten.toArray())
        #expect(try FluxTransformer.load(second + "/base").config == config)
        #expect(throws: Error.self) {
            try BasePretraining.run(data: data, out: second + "-bad", options: PretrainOptions(steps: 1, batch: 2, learningRate: 1e-3), resume: false,
                                    from: Self.world)
        }
        // A second stage keeps where the first's flow starts.
        do {
            try BasePretraining.run(data: data, out: second + "-source", options: PretrainOptions(steps: 1, batch: 2, learningRate: 1e-3), resume: false,
                                    from: run + "/base", flowSource: .noise)
            Issue.record("a context-sourced base continued from noise")
        } catch {
            #expect("\(error)".contains("flow-source context"), "\(error)")
        }
    }

    /// A flow from the context with noise sigma trains at the signal-to-noise ratios of a flow from
    /// pure noise: (1 - t) / (t sigma) at the shifted time equals (1 - t) / t at the unshifted one.
    @Test func contextSourcedTimesMatchTheNoiseSourcesSignalToNoise() {
        #expect(BasePretraining.trainingTimesteps(source: .noise, sourceNoise: 0.1) == .logitNormal(mean: 1.5, std: 1))
        #expect(BasePretraining.trainingTimesteps(source: .context, sourceNoise: 1) == .logitNormal(mean: 1.5, std: 1))
        guard case .logitNormal(let mean, let std) = BasePretraining.trainingTimesteps(source: .context, sourceNoise: 0.1) else {
            Issue.record("not logit-normal"); return
        }
        #expect(abs(mean - 3.8026) < 1e-4 && std == 1)
        let snr = { (t: Float, sigma: Float) in (1 - t) / (t * sigma) }
        let t = 1 / (1 + exp(-Float(0.7))), shifted = 1 / (1 + exp(-(Float(0.7) + mean - 1.5)))
        #expect(abs(snr(shifted, 0.1) - snr(t, 1)) < 1e-4)
    }

    /// adaLN-Zero: every block's modulation and the output projection start at zero (so the
    /// fresh editor outputs exactly 0 whatever its input), and the QK-norm gains start at `qkGain`.
    @Test func editingInitialisation() throws {
        var config = FluxConfig.small
        config.numLayers = 1; config.numSingleLayers = 1
        let p = Parameters.initialising(seed: 1)
        let model = try FluxTransformer(p, config: config)
        BasePretraining.initialiseForEditing(p)
        let keys = Dictionary(uniqueKeysWithValues: p.all.map { ($0.key, $0.tensor) })
        for key in ["transformer_blocks.0.norm1.linear.weight", "transformer_blocks.0.norm1_context.linear.bias",
                    "single_transformer_blocks.0.norm.linear.weight", "norm_out.linear.weight", "proj_out.weight", "proj_out.bias"] {
            #expect(keys[key]!.toArray().allSatisfy { $0 == 0 }, "\(key)")
        }
        // A single block's own proj_out must stay random: zero with a zero gate, neither would learn.
        #expect(keys["single_transformer_blocks.0.proj_out.weight"]!.toArray().contains { $0 != 0 })
        for key in ["transformer_blocks.0.attn.norm_q.weight", "transformer_blocks.0.attn.norm_added_k.weight", "single_transformer_blocks.0.attn.norm_k.weight"] {
            #expect(keys[key]!.toArray().allSatisfy { $0 == BasePretraining.qkGain }, "\(key)")
        }
        var rng = RNG(seed: 2)
        let out = withNoGrad {
            model(hiddenStates: rng.normal([1, 8, 192]), encoderHiddenStates: rng.normal([1, 3, 64]), pooledProjections: rng.normal([1, 64]),
                  timestep: Tensor(shape: [1], data: [0.5]), guidance: Tensor(shape: [1], data: [1]), imgIds: FluxPacking.imageIds(height: 4, width: 8), txtIds: Tensor.zeros([3, 3]))
        }
        #expect(out.toArray().allSatisfy { $0 == 0 })
    }

    @Test func psnrOfKnownDifference() {
        let a = Image(width: 2, height: 2, color: [100, 100, 100]), b = Image(width: 2, height: 2, color: [110, 100, 100])
        // MSE = 100 / 3 over the 12 values: 10 log10(255^2 / 33.33) = 32.902 dB.
        #expect(abs(psnr(a, b) - 32.9020) < 1e-3 && psnr(a, a) == 100)
    }
}
