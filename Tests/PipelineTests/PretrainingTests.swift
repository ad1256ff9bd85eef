import Foundation
import Testing
import Formats
import Models
import Tensor
@testable import Pipeline

// Smoke runs of both pretraining stages on a tiny world: a few steps, the loss must fall, and
// the weights must come out in the upstream layouts the loaders read.

@Suite(.serialized) struct PretrainingTests {
    static let world: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("world-\(UUID().uuidString)").path
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
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("enc-\(UUID().uuidString)").path
        var config = CLIPVisionConfig.smallWorld
        config.numHiddenLayers = 1
        try EncoderPretraining.run(data: try SmallWorldDataset(folder: Self.world), out: run,
                                   options: PretrainOptions(steps: 16, batch: 8, learningRate: 2e-3, checkpointEvery: 8), resume: false, config: config)
        let l = try losses(run + "/encoder-training")
        #expect(l.count == 16 && falls(l), "encoder losses \(l)")
        let encoder = ImageEncoder(model: try CLIPVision.load(run + "/encoder"))
        #expect(encoder.embed([Image(width: 32, height: 32, color: [10, 200, 30])]).shape == [1, 64])
    }

    @Test func baseLossFallsAndTheEditorLoads() throws {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("base-\(UUID().uuidString)").path
        var config = FluxConfig.small
        config.numLayers = 1; config.numSingleLayers = 1
        let data = try SmallWorldDataset(folder: Self.world)
        try BasePretraining.run(data: data, out: run, options: PretrainOptions(steps: 16, batch: 4, learningRate: 2e-3, checkpointEvery: 8),
                                resume: false, config: config)
        let l = try losses(run + "/base-training")
        #expect(l.count == 16 && falls(l), "base losses \(l)")
        let model = try FluxTransformer.load(run + "/base")
        let value = try BasePretraining.evaluate(model, data: data, samples: Array(data.samples(.seen).prefix(2)), steps: 2)
        #expect(value.isFinite && value > 0)
    }

    @Test func psnrOfKnownDifference() {
        let a = Image(width: 2, height: 2, color: [100, 100, 100]), b = Image(width: 2, height: 2, color: [110, 100, 100])
        // MSE = 100 / 3 over the 12 values: 10 log10(255^2 / 33.33) = 32.902 dB.
        #expect(abs(psnr(a, b) - 32.9020) < 1e-3 && psnr(a, a) == 100)
    }
}
