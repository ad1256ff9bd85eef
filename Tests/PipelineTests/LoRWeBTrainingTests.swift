import Foundation
import Testing
import Formats
import Models
import Tensor
@testable import Pipeline
import Training
import SmallWorld
import TestSupport

// LoRWeB end to end on a tiny world: a few training steps on a tiny random base with the shipped
// encoder, resume to the same bits, editing any triplet sizes, evaluation reports.

@Suite(.serialized) struct LoRWeBTrainingTests {
    /// A tiny world and a one-step base (1 double + 1 single block) written as a diffusers folder.
    static let setup: (world: String, base: String) = {
        let dir = try! scratchFolder("e2e")
        var o = SmallWorldSynth.Options()
        o.train = 40
        o.evalPerSplit = 6
        _ = try! SmallWorldSynth.generate(o, into: dir + "/world")
        var config = FluxConfig.small
        config.numLayers = 1; config.numSingleLayers = 1
        // One large step moves adaLN-Zero's zeros (gates, output projection) far enough from zero
        // for gradients to reach the adapters.
        try! BasePretraining.run(data: try! SmallWorldDataset(folder: dir + "/world"), out: dir + "/base",
                                 options: PretrainOptions(steps: 1, batch: 2, learningRate: 5e-2, checkpointEvery: 1), resume: false, config: config)
        return (dir + "/world", dir + "/base/base")
    }()
    static let encoder = repositoryRoot.appendingPathComponent("models/small-world/encoder").path

    @discardableResult
    func train(_ out: String, steps: Int, checkpointEvery: Int = 100, resume: Bool = false, n: Int = 4, r: Int = 2,
               queryMode: QueryMode = .concatenated, schedule: LoRWeBTrainOptions.LRScheduleKind = .constant,
               edgeLoss: Float = 0, seamLoss: Float = 0, scale: Float = 1, times: LoRWeBTrainOptions.TimesKind = .base,
               reduction: FlowMatching.Reduction = .mean) throws -> TrainingLoop.Summary {
        let model = try LoRWeBModel.create(basePath: Self.setup.base, encoderPath: Self.encoder, n: n, r: r, keysDim: 16,
                                           scale: scale, queryMode: queryMode, seed: 3, runFolder: out)
        var o = LoRWeBTrainOptions()
        o.steps = steps; o.batch = 4; o.learningRate = 1e-2; o.checkpointEvery = checkpointEvery; o.seed = 3; o.lrSchedule = schedule
        o.edgeLoss = edgeLoss; o.seamLoss = seamLoss; o.timesteps = times; o.loss = reduction
        return try LoRWeBTraining.run(model, pairs: try LoRWeBTraining.trainingPairs(Self.setup.world, resolution: 64), out: out, options: o, resume: resume)
    }

    func losses(_ run: String) throws -> [Double] { try metric("loss", run) }

    func metric(_ key: String, _ run: String) throws -> [Double] {
        try String(contentsOfFile: run + "/training/metrics.jsonl", encoding: .utf8).split(whereSeparator: \.isNewline).map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])[key] as! Double
        }
    }

    @Test func theCosineScheduleWarmsUpThenDecaysAndIsRecorded() throws {
        let run = scratchPath("cosine")
        try train(run, steps: 40, checkpointEvery: 40, schedule: .cosine)
        let rates = try metric("lr", run)
        // 2 warm-up steps (5% of 40) reach the base rate 1e-2, then a half cosine towards 0.
        #expect(abs(rates[0] - 5e-3) < 1e-12 && abs(rates[1] - 1e-2) < 1e-12, "warm-up rates \(rates.prefix(2))")
        #expect(zip(rates.dropFirst(), rates.dropFirst(2)).allSatisfy { $0 >= $1 } && rates.last! < 1e-4, "decay \(rates.suffix(3))")
        let recipe = try LoRWeBModel.load(run).config.info["recipe"] ?? ""
        #expect(recipe.contains("\"lr_schedule\":\"cosine\""), "recipe \(recipe)")
    }

    @Test(arguments: ["edge_loss", "seam_loss"])
    func anEdgeOrSeamLossAddsToThePixelLossAndIsRecorded(_ key: String) throws {
        let model = try LoRWeBModel.create(basePath: Self.setup.base, encoderPath: Self.encoder, n: 4, r: 2, keysDim: 16, seed: 3)
        #expect(model.lossSpace == .pixels)
        let pairs = try LoRWeBTraining.trainingPairs(Self.setup.world, resolution: 64)
        let samples = try pairs.indices.prefix(2).map { try pairs.folder.sample($0) }
        let edge = key == "edge_loss"
        func loss(_ weight: Float) -> Float {
            var rng = RNG(seed: 11)
            return withNoGrad {
                LoRWeBTraining.loss(model, samples: samples, prompts: ["", ""], weighted: false, edgeWeight: edge ? weight : 0,
                                    seamWeight: edge ? 0 : weight, rng: &rng).item()
            }
        }
        // Same noise, same pixel loss: the added term's share grows linearly with its weight.
        let (plain, one, three) = (loss(0), loss(1), loss(3))
        #expect(one > plain && abs((three - plain) - 3 * (one - plain)) < 1e-4 * three, "losses \(plain), \(one), \(three)")
        let run = scratchPath(key)
        try train(run, steps: 2, checkpointEvery: 2, edgeLoss: edge ? 2 : 0, seamLoss: edge ? 0 : 2)
        let recipe = try LoRWeBModel.load(run).config.info["recipe"] ?? ""
        #expect(recipe.contains("\"\(key)\":2"), "recipe \(recipe)")
    }

    @Test func samplerTimesAreTheEulerRunsAndAreRecorded() throws {
        let model = try LoRWeBModel.create(basePath: Self.setup.base, encoderPath: Self.encoder, n: 4, r: 2, keysDim: 16, seed: 3)
        let sigmas = FlowMatching.samplingSigmas(steps: model.defaultSteps, imageSeqLen: 64).dropLast()
        var rng = RNG(seed: 5)
        let sampler = LoRWeBTraining.trainingTimes(model, .sampler, batch: 1000, tokens: 64, rng: &rng)
        #expect(sampler.allSatisfy(sigmas.contains) && Set(sampler).count == sigmas.count, "sampler times \(Set(sampler)), sigmas \(sigmas)")
        // The base's own times are spread out, so the check above is not the same draw.
        let base = LoRWeBTraining.trainingTimes(model, .base, batch: 64, tokens: 64, rng: &rng)
        #expect(!base.allSatisfy(sigmas.contains))
        let run = scratchPath("sampler-times")
        try train(run, steps: 2, checkpointEvery: 2, times: .sampler)
        let recipe = try LoRWeBModel.load(run).config.info["recipe"] ?? ""
        #expect(recipe.contains("\"timesteps\":\"sampler\""), "recipe \(recipe)")
    }

    @Test func theLogLossIsTheLogOfTheGridsErrorAndIsRecorded() throws {
        let model = try LoRWeBModel.create(basePath: Self.setup.base, encoderPath: Self.encoder, n: 4, r: 2, keysDim: 16, seed: 3)
        let pairs = try LoRWeBTraining.trainingPairs(Self.setup.world, resolution: 64)
        let sample = try pairs.folder.sample(pairs.indices[0])
        func loss(_ reduction: FlowMatching.Reduction) -> Float {
            var rng = RNG(seed: 11)
            return withNoGrad {
                LoRWeBTraining.loss(model, samples: [sample], prompts: [""], weighted: false, seamWeight: 2, reduction: reduction, rng: &rng).item()
            }
        }
        // One grid, same noise: its log loss is the log of its error, the seam term included.
        let (mean, logged) = (loss(.mean), loss(.log))
        #expect(abs(logged - log(mean + FlowMatching.logFloor)) < 1e-5, "mean \(mean), log \(logged)")
        let run = scratchPath("log-loss")
        try train(run, steps: 2, checkpointEvery: 2, reduction: .log)
        #expect(try losses(run).allSatisfy(\.isFinite))
        let recipe = try LoRWeBModel.load(run).config.info["recipe"] ?? ""
        #expect(recipe.contains("\"loss\":\"log-mse\""), "recipe \(recipe)")
    }

    @Test func theBasisScaleIsTrainedWithAndRecorded() throws {
        let run = scratchPath("scale")
        try train(run, steps: 2, checkpointEvery: 2, scale: 3)
        let model = try LoRWeBModel.load(run)
        #expect(model.config.adapter.scale == 3)
        let recipe = model.config.info["recipe"] ?? ""
        #expect(recipe.contains("\"scale\":3"), "recipe \(recipe)")
        // A resume with another scale is another run; with the same one it continues.
        #expect(throws: (any Error).self) { try train(run, steps: 4, checkpointEvery: 2, resume: true, scale: 1) }
        try train(run, steps: 4, checkpointEvery: 2, resume: true, scale: 3)
        #expect(try losses(run).count == 4)
    }

    /// The loss on the first four training pairs at fixed noise levels and noise.
    func fixedLoss(_ model: LoRWeBModel) throws -> Float {
        let pairs = try LoRWeBTraining.trainingPairs(Self.setup.world, resolution: 64)
        let samples = try pairs.indices.prefix(4).map { try pairs.folder.sample($0) }
        var rng = RNG(seed: 11)
        return withNoGrad { LoRWeBTraining.loss(model, samples: samples, prompts: samples.map(\.caption), weighted: false, rng: &rng).item() }
    }

    @Test func trainingOnlyTheAdaptersLowersTheLossAndWritesALoadableRun() throws {
        let run = scratchPath("train")
        let before = try SafetensorsFile(path: Self.setup.base + "/diffusion_pytorch_model.safetensors").allTensors()
        let initial = try fixedLoss(try LoRWeBModel.create(basePath: Self.setup.base, encoderPath: Self.encoder, n: 4, r: 2, keysDim: 16, seed: 3))
        try train(run, steps: 8, checkpointEvery: 4)
        let trained = try fixedLoss(try LoRWeBModel.load(run))
        // Untrained adapters (B = 0) leave the loss exactly where it was.
        #expect(trained < 0.97 * initial, "fixed-noise loss \(initial) -> \(trained) after 8 steps")
        #expect(TrainingCheckpoint.checkpoints(in: run + "/training").count == 2)
        let model = try LoRWeBModel.load(run)
        #expect(model.adapters.layers.count == model.base.adaptableLinears.count && model.config.adapter.n == 4)
        // The base is frozen: its file is untouched and the loaded base holds the same values.
        for (key, linear) in model.base.adaptableLinears { #expect(sameBits(linear.weight, before[key + ".weight"]!), "base tensor \(key) changed") }
        // Trained adapters are not the initial ones: lora_B left zero.
        #expect(model.adapters.layers.contains { $0.adapter.loraB.toArray().contains { $0 != 0 } })
    }

    @Test func resumeContinuesToTheSameBitsAsAnUninterruptedRun() throws {
        let whole = scratchPath("whole")
        let split = scratchPath("split")
        try train(whole, steps: 6, checkpointEvery: 3)
        try train(split, steps: 3, checkpointEvery: 3)
        let summary = try train(split, steps: 6, checkpointEvery: 3, resume: true)
        #expect(summary.startStep == 3)
        let a = try Data(contentsOf: URL(fileURLWithPath: whole + "/adapters.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: split + "/adapters.safetensors"))
        #expect(a == b)
    }

    @Test func singleLoRAIsABasisOfOne() throws {
        let run = scratchPath("single")
        try train(run, steps: 2, n: 1, r: 8)
        let model = try LoRWeBModel.load(run)
        #expect(model.config.adapter.n == 1 && model.config.adapter.r == 8)
        let q = model.query(grids: [AnalogyGrid.conditioning(a: Image(width: 32, height: 32, color: [1, 2, 3]), aPrime: Image(width: 32, height: 32, color: [9, 9, 9]), b: Image(width: 32, height: 32, color: [200, 0, 0]))])
        #expect(model.coefficients(q).toArray().allSatisfy { $0 == 1 })
    }

    @Test func gridQueryModeEmbedsTheGridWithoutItsBottomRight() throws {
        let run = scratchPath("gridq")
        try train(run, steps: 2, queryMode: .grid)
        let model = try LoRWeBModel.load(run)
        #expect(model.config.queryMode == .grid && model.config.adapter.queryDim == model.encoder.embeddingWidth)
        let grid = AnalogyGrid.conditioning(a: Image(width: 32, height: 32, color: [1, 2, 3]),
                                            aPrime: Image(width: 32, height: 32, color: [9, 9, 9]),
                                            b: Image(width: 32, height: 32, color: [200, 0, 0]))
        var otherBottomRight = grid, otherAPrime = grid
        otherBottomRight.paste(Image(width: 32, height: 32, color: [0, 255, 0]), x: 32, y: 32)
        otherAPrime.paste(Image(width: 32, height: 32, color: [0, 255, 0]), x: 32, y: 0)
        let q = model.query(grids: [grid, otherBottomRight, otherAPrime]).toArray()
        let e = model.encoder.embeddingWidth
        #expect(Array(q[0..<e]) == Array(q[e..<(2 * e)]))
        #expect(Array(q[0..<e]) != Array(q[(2 * e)...]))
        #expect(Array(q[0..<e]) == model.encoder.embed([AnalogyGrid.withoutBottomRight(grid)]).toArray())
    }

    @Test func editKeepsBsSizeAndIsDeterministic() throws {
        let run = scratchPath("edit")
        try train(run, steps: 1)
        let model = try LoRWeBModel.load(run)
        let a = Image(width: 40, height: 24, color: [30, 60, 90]), aPrime = Image(width: 20, height: 20, color: [200, 10, 10])
        let b = Image(width: 17, height: 33, color: [0, 128, 0])
        let e1 = try model.edit([(a, aPrime, b)], prompts: [""], steps: 2, seed: 5)[0]
        let e2 = try model.edit([(a, aPrime, b)], prompts: [""], steps: 2, seed: 5)[0]
        #expect(e1.bPrime.width == 17 && e1.bPrime.height == 33)
        #expect(e1.grid.width % LoRWeBModel.divisibility == 0 && e1.grid.height % LoRWeBModel.divisibility == 0)
        #expect(e1.bPrime == e2.bPrime && e1.coefficients.shape == [model.adapters.layers.count, 4])
    }

    @Test func evaluationReportAggregatesPerTaskThenOverTasks() throws {
        let run = scratchPath("eval")
        try train(run, steps: 1)
        let model = try LoRWeBModel.load(run)
        let triplets = try EvalTriplet.from(try LabelledTriplets.read(Self.setup.world, split: "unseen"), path: Self.setup.world, limitPerTask: 1, prompts: true)
        let results = try Evaluation.run(model, triplets: Array(triplets.prefix(3)), steps: 1, seed: 0, guidance: 1, batch: 2)
        #expect(results.count == 3)
        let report = Evaluation.report(results, settings: ["steps": 1])
        let path = run + "/eval.json"
        try JSONFile.write(object: report, to: path)
        let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        let psnr = (parsed["overall"] as! [String: Any])["psnr"] as! [String: Any]
        let perTask = Dictionary(grouping: results, by: \.triplet.task).values.map { rs in rs.map(\.scores.psnr).reduce(0, +) / Double(rs.count) }
        #expect(abs(psnr["mean"] as! Double - perTask.reduce(0, +) / Double(perTask.count)) < 1e-9)
        #expect((parsed["triplets"] as! [Any]).count == 3)
    }

    @Test func aRunForAnotherBaseIsRefusedByName() throws {
        let run = scratchPath("other")
        try train(run, steps: 1)
        var config = try RunCheckpoint.config(in: run)
        config.base.numSingleLayers = 3
        try JSONFile.write(config, to: run + "/" + RunCheckpoint.configFile)
        #expect { try LoRWeBModel.load(run) } throws: { "\($0)".contains("trained on another base model") }
    }
}

@Suite struct EditMetricsTests {
    /// Two 16 x 12 pictures whose SSIM scikit-image 0.26 computes as 0.550185033 (tools/fixtures/make_ssim_fixture.py).
    static func pictures() -> (Image, Image) {
        var x = [UInt8](), y = [UInt8]()
        for i in 0..<(16 * 12 * 3) {
            x.append(UInt8((i * 37 + (i / 48) * 11) % 256))
            y.append(UInt8((i * 37 + (i / 48) * 11 + (i % 7) * 9) % 256))
        }
        return (Image(width: 16, height: 12, channels: 3, pixels: x), Image(width: 16, height: 12, channels: 3, pixels: y))
    }

    @Test func ssimMatchesScikitImage() {
        let (x, y) = Self.pictures()
        #expect(abs(EditMetrics.ssim(x, x) - 1) < 1e-12)
        #expect(abs(EditMetrics.ssim(x, y) - EditMetricsTests.scikitSSIM) < 1e-6, "ssim \(EditMetrics.ssim(x, y))")
    }

    static let scikitSSIM = 0.550185033

    @Test func preservationAndEditSplitByWhereTheTruthDiffersFromB() {
        let b = Image(width: 2, height: 1, channels: 3, pixels: [0, 0, 0, 0, 0, 0])
        let truth = Image(width: 2, height: 1, channels: 3, pixels: [0, 0, 0, 200, 200, 200])   // pixel 1 changes
        let made = Image(width: 2, height: 1, channels: 3, pixels: [10, 10, 10, 200, 200, 200])  // keeps the change, misses pixel 0
        let s = EditMetrics.score(made: made, truth: truth, b: b)
        #expect(s.changedFraction == 0.5 && s.editPSNR == 100)
        #expect(abs(s.preservationPSNR! - 10 * log10(255 * 255 / 100)) < 1e-9)
    }
}
