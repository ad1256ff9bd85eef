import Foundation
import Formats
import Models
import Tensor
import Training
import SmallWorld

// LoRWeB training as the release does it: the frozen Kontext base sees the conditioning grid
// (a | a' / b | b) as context tokens and learns, through the adapters only, the rectified-flow
// velocity of the whole target grid (a | a' / b | b'); the query comes from the frozen
// encoder's embeddings of the crops a, a', b of the conditioning grid.

/// The recipe; defaults are the paper's where they transfer to a CPU (see README).
public struct LoRWeBTrainOptions: Codable, Equatable, Sendable {
    public var steps = 1500
    /// The paper trains with batch 6 on a GPU; 8 grids of 64 x 64 keep a step near a second here.
    public var batch = 8
    public var learningRate = 1e-3
    public var weightDecay = 0.05
    public var beta1 = 0.9
    public var beta2 = 0.99
    public var captionDropout: Float = 0.05
    /// The release's bell-shaped loss weighting over timesteps, when the base was trained on the
    /// release's timesteps (a base with its own, like the small world's, trains its adapters on those, unweighted).
    public var weighted = true
    public var seed: UInt64 = 0
    public var checkpointEvery = 250
    /// The paper's rate is constant; `.cosine` warms up over the first 5% of the steps and then
    /// decays to zero, so that the adapters end on weights that are not the last batches' noise.
    public var lrSchedule = LRScheduleKind.constant
    /// Weight of a loss on the pictures' steps between neighbouring pixels, added to a pixel-space
    /// loss (0: the paper's loss alone). A per-pixel loss does not charge the adapters for edges
    /// the truth lacks, such as the 4 x 4 speckle where they recolour a region; this one does
    /// (measured: it smooths b' inside tokens, not across their seams; docs/small-world.md).
    public var edgeLoss: Float = 0
    /// Weight of a loss on the steps across token seams alone, added to a pixel-space loss (0: the
    /// paper's loss alone). Where the adapters are unsure of an edit, each token applies its own
    /// share of it and b' shows the token grid (an 8 x 8-pixel token's output is a linear map of its
    /// own hidden state, and no convolutional decoder blends neighbours as Flux's VAE does); this
    /// charges for exactly those steps (measured: docs/small-world.md).
    public var seamLoss: Float = 0
    /// Where the adapters train: at the base's training times (`.base`, the release's way), or only
    /// at the times the base's sampler evaluates (`.sampler`: t = 1 alone for a one-step base).
    /// A one-step sampler reads nothing but the t = 1 output, while at the base's times x_t shows
    /// part of the target, which the sampler never offers (measured: a small gain on unseen tasks,
    /// within a seed's spread; docs/small-world.md).
    public var timesteps = TimesKind.base
    /// How the batch's per-grid errors become the loss: their mean (the release's), or the mean of
    /// their logs, which weighs each task by how much of its error the adapters remove, as eval's
    /// per-task PSNR does (measured: docs/small-world.md).
    public var loss = FlowMatching.Reduction.mean
    public init() {}

    public enum LRScheduleKind: String, Codable, Sendable, CaseIterable { case constant, cosine }
    public enum TimesKind: String, Codable, Sendable, CaseIterable { case base, sampler }

    enum CodingKeys: String, CodingKey {
        case steps, batch, learningRate = "learning_rate", weightDecay = "weight_decay", beta1, beta2
        case captionDropout = "caption_dropout", weighted, seed, checkpointEvery = "checkpoint_every", lrSchedule = "lr_schedule"
        case edgeLoss = "edge_loss", seamLoss = "seam_loss", timesteps, loss
    }
}

public enum LoRWeBTraining {
    /// Checkpoints and metrics of a run live in RUN/training; the trained model in RUN itself.
    public static let checkpointFolder = "training"

    /// The pairs to train on: every pair of a Relation252k-style folder, or, for a small world
    /// (a folder with manifest.json), only its train split.
    public static func trainingPairs(_ data: String, resolution: Int) throws -> (folder: AnalogyFolder, indices: [Int]) {
        let folder = try AnalogyFolder(data, resolution: resolution, divisibility: LoRWeBModel.divisibility)
        guard FileManager.default.fileExists(atPath: data + "/" + SmallWorldSynth.manifestFile) else {
            return (folder, Array(0..<folder.count))
        }
        let train = Set(try SmallWorldDataset(folder: data).samples(.train).map(\.name))
        let indices = folder.names.indices.filter { train.contains(folder.names[$0]) }
        guard !indices.isEmpty else { throw FormatError(data, "the small-world manifest lists no train-split samples") }
        return (folder, indices)
    }

    /// The rectified-flow loss of `model` on training pairs: noise levels and noise drawn from `rng`.
    public static func loss(_ model: LoRWeBModel, samples: [AnalogySample], prompts: [String], weighted: Bool, edgeWeight: Float = 0,
                            seamWeight: Float = 0, times: LoRWeBTrainOptions.TimesKind = .base, reduction: FlowMatching.Reduction = .mean,
                            rng: inout RNG) -> Tensor {
        // Buckets may differ between pairs of user data; a batch takes its first pair's size.
        let (w, h) = (samples[0].target.width, samples[0].target.height)
        func sized(_ im: Image) -> Image { im.width == w && im.height == h ? im : im.resized(width: w, height: h) }
        let targets = samples.map { sized($0.target) }, contexts = samples.map { sized($0.conditioning) }
        let query = model.query(grids: contexts, convention: .training)
        let batch = KontextBatch(targets: targets, contexts: contexts, prompts: prompts, codec: model.codec, textEncoder: model.text)
        let t = trainingTimes(model, times, batch: samples.count, tokens: batch.target.shape[1], rng: &rng)
        // On the base's own output (velocity or x0), noise levels, loss space and flow start: the
        // adapters must help where the base's sampler evaluates it (the small base samples in a few
        // steps from t = 1, where the release's bell weight is 0).
        return batch.flowLoss(model.base, prediction: model.prediction, start: model.flowStart, space: model.lossSpace, codec: model.codec,
                              t: t, noise: rng.normal(batch.target.shape), weighted: weighted && model.trainingTimesteps.weighted,
                              edgeWeight: edgeWeight, seamWeight: seamWeight, reduction: reduction, adapters: .query(query))
    }

    /// One training time per grid of `batch`, for grids of `tokens` target tokens: drawn from the
    /// base's training times, or uniformly from the times its Euler sampler evaluates (the last
    /// sigma, 0, is where the run stops, not a time it asks; one sampler time draws nothing).
    static func trainingTimes(_ model: LoRWeBModel, _ kind: LoRWeBTrainOptions.TimesKind, batch: Int, tokens: Int, rng: inout RNG) -> [Float] {
        switch kind {
        case .base: return model.trainingTimesteps.draw(batch: batch, rng: &rng)
        case .sampler:
            let sigmas = FlowMatching.samplingSigmas(steps: model.defaultSteps, imageSeqLen: tokens).dropLast()
            return (0..<batch).map { _ in sigmas.count == 1 ? sigmas[0] : sigmas[rng.int(in: 0...(sigmas.count - 1))] }
        }
    }

    /// Trains `model`'s adapters on `pairs` and writes the model into `out`. `info` (data, kind)
    /// is recorded in the run's lorweb.json and, with the recipe and the architecture, must not
    /// change on resume.
    @discardableResult
    public static func run(_ model: LoRWeBModel, pairs: (folder: AnalogyFolder, indices: [Int]), out: String,
                           options o: LoRWeBTrainOptions, resume: Bool, info: [String: String] = [:]) throws -> TrainingLoop.Summary
    {
        let parameters = model.adapters.namedParameters
        let optimizer = AdamW(parameters, config: AdamWConfig(learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2,
                                                              eps: 1e-6, weightDecay: o.weightDecay))
        var loop = TrainingLoop(totalSteps: o.steps, checkpointEvery: o.checkpointEvery, runFolder: out + "/" + checkpointFolder)
        switch o.lrSchedule {
        case .constant: loop.schedule = .constant
        case .cosine: loop.schedule = .cosine(steps: o.steps)
        }
        loop.dataOrder = DataOrder(count: pairs.indices.count, batchSize: o.batch, seed: o.seed)
        let c = model.config
        let architecture: [String: Any] = [
            "n": c.adapter.n, "r": c.adapter.r, "keys_dim": c.adapter.keysDim, "heads": c.adapter.heads, "softmax": c.adapter.softmax, "scale": c.adapter.scale,
            "query_mode": c.queryMode.rawValue, "base_path": c.basePath ?? "", "encoder_path": c.encoderPath ?? "",
        ]
        loop.config = try TrainingLoop.settings(o, architecture.merging(info) { _, new in new })
        let order = loop.dataOrder!
        let summary = try loop.run(optimizer: optimizer, rng: RNG(seed: o.seed), resume: resume) { s, rng in
            var rng = rng
            let samples = try order.batch(at: s).map { try pairs.folder.sample(pairs.indices[$0]) }
            let prompts = samples.map { rng.nextFloat() < o.captionDropout ? "" : $0.caption }
            let loss = loss(model, samples: samples, prompts: prompts, weighted: o.weighted, edgeWeight: o.edgeLoss,
                            seamWeight: o.seamLoss, times: o.timesteps, reduction: o.loss, rng: &rng)
            loss.backward()
            return (loss.item(), [:])
        }
        var provenance = info
        provenance["steps"] = String(o.steps)
        provenance["recipe"] = summary.config
        provenance["lorweb_version"] = LorwebVersion.description
        try model.save(to: out, info: provenance)
        return summary
    }
}
