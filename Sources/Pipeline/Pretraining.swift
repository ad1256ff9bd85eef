import Foundation
import Formats
import Models
import Tensor

// The two pretraining stages that give the small world what LoRWeB assumes it is handed:
// a frozen image encoder (CLIP's role) and a text-guided single-image editor (Flux-Kontext's role).

/// Hyperparameters shared by both stages.
public struct PretrainOptions: Codable {
    public var steps: Int
    public var batch: Int
    public var learningRate: Double
    public var seed: UInt64
    public var checkpointEvery: Int
    public init(steps: Int, batch: Int, learningRate: Double, seed: UInt64 = 0, checkpointEvery: Int = 250) {
        self.steps = steps; self.batch = batch; self.learningRate = learningRate; self.seed = seed; self.checkpointEvery = checkpointEvery
    }
}

/// Writes a model config as the upstream library saves it: the constructor arguments plus the
/// keys by which transformers / diffusers pick the class, so `from_pretrained` reads our folders.
func writeConfig<C: Encodable>(_ config: C, marker: [String: Any], to path: String) throws {
    var object = (try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any]) ?? [:]
    object.merge(marker) { _, new in new }
    try JSONFile.write(object: object, to: path)
}

/// Every distinct picture of the training split (a, a', b, b' of each triplet), in manifest order.
func trainingPictures(_ data: SmallWorldDataset) -> [String] {
    var seen = Set<String>(), paths: [String] = []
    for s in data.samples(.train) {
        for p in [s.a, s.aPrime, s.b, s.bPrime] where seen.insert(p).inserted { paths.append(data.path(p)) }
    }
    return paths
}

public enum EncoderPretraining {
    public static let folder = "encoder"

    /// SimCLR on the training pictures (no labels of any kind), then the encoder is written as a
    /// Hugging Face CLIP vision folder `RUN/encoder` (config.json + model.safetensors);
    /// checkpoints and metrics.jsonl go to `RUN/encoder-training`.
    @discardableResult
    public static func run(data: SmallWorldDataset, out: String, options o: PretrainOptions, resume: Bool,
                           config: CLIPVisionConfig = .smallWorld) throws -> TrainingLoop.Summary {
        let pictures = trainingPictures(data)
        guard pictures.count >= 2 * o.batch else { throw FormatError(data.folder, "has \(pictures.count) training pictures; pretrain-encoder needs at least \(2 * o.batch)") }
        let p = Parameters.initialising(seed: o.seed)
        let model = try CLIPVision(p, config: config)
        for (_, t) in p.all { t.requiresGrad = true }
        let preprocess = CLIPPreprocessor(size: config.imageSize)
        let optimizer = AdamW(p.all, config: AdamWConfig(learningRate: o.learningRate, beta1: 0.9, beta2: 0.99, weightDecay: 0.05))
        var loop = TrainingLoop(totalSteps: o.steps, checkpointEvery: o.checkpointEvery, runFolder: out + "/" + folder + "-training")
        loop.schedule = .warmupCosine(warmup: max(1, o.steps / 20), total: o.steps, minFactor: 0.1)
        loop.dataOrder = DataOrder(count: pictures.count, batchSize: o.batch, seed: o.seed)
        loop.config = try JSONFile.line(o)
        let order = loop.dataOrder!
        let summary = try loop.run(optimizer: optimizer, rng: RNG(seed: o.seed), resume: resume) { step, rng in
            var rng = rng
            let images = try order.batch(at: step).map { try Image.read(pictures[$0]) }
            let views = images.map { Contrastive.augment($0, rng: &rng) } + images.map { Contrastive.augment($0, rng: &rng) }
            let loss = Contrastive.ntXent(model.imageEmbeds(preprocess.batch(views)))
            loss.backward()
            return (loss.item(), [:])
        }
        try save(model, parameters: p, to: out + "/" + folder)
        return summary
    }

    static func save(_ model: CLIPVision, parameters p: Parameters, to folder: String) throws {
        try AtomicFile.createFolder(folder)
        try Safetensors.write(p.all.map { ($0.key, $0.tensor) }, dtype: .f32, metadata: ["format": "pt"], to: folder + "/model.safetensors")
        try writeConfig(model.config, marker: ["model_type": "clip_vision_model", "architectures": ["CLIPVisionModelWithProjection"]],
                        to: folder + "/config.json")
    }
}

public enum BasePretraining {
    public static let folder = "base"
    /// Share of training grids whose prompt is empty and whose target is the context itself.
    public static let identityShare: Float = 0.1

    /// Grids of four (before, after) pairs of one text-describable training task with its caption
    /// (or, for `identityShare` of them, the context unchanged under an empty prompt), trained
    /// with rectified flow on every parameter of the small Flux; the editor is written as a
    /// diffusers transformer folder `RUN/base` (checkpoints and metrics in `RUN/base-training`).
    @discardableResult
    public static func run(data: SmallWorldDataset, out: String, options o: PretrainOptions, resume: Bool,
                           config: FluxConfig = .small) throws -> TrainingLoop.Summary {
        var tasks: [String: (caption: String, pairs: [(String, String)])] = [:]
        for s in data.samples(.train) where s.textDescribable {
            tasks[s.task, default: (s.caption, [])].pairs += [(data.path(s.a), data.path(s.aPrime)), (data.path(s.b), data.path(s.bPrime))]
        }
        let taskIDs = tasks.keys.sorted()
        guard !taskIDs.isEmpty else { throw FormatError(data.folder, "has no text-describable training triplets for pretrain-base") }
        let p = Parameters.initialising(seed: o.seed)
        let model = try FluxTransformer(p, config: config)
        for (_, t) in p.all { t.requiresGrad = true }
        let codec = SpaceToDepthCodec(), text = HashedTextEncoder(width: config.jointAttentionDim, pooledWidth: config.pooledProjectionDim)
        let optimizer = AdamW(p.all, config: AdamWConfig(learningRate: o.learningRate, beta1: 0.9, beta2: 0.99, weightDecay: 0.05))
        var loop = TrainingLoop(totalSteps: o.steps, checkpointEvery: o.checkpointEvery, runFolder: out + "/" + folder + "-training")
        loop.schedule = .warmupCosine(warmup: max(1, o.steps / 20), total: o.steps, minFactor: 0.1)
        loop.config = try JSONFile.line(o)
        let summary = try loop.run(optimizer: optimizer, rng: RNG(seed: o.seed), resume: resume) { _, rng in
            var rng = rng
            var targets: [Image] = [], contexts: [Image] = [], prompts: [String] = []
            for _ in 0..<o.batch {
                let task = tasks[taskIDs[rng.int(in: 0..<taskIDs.count)]]!
                let pairs = try (0..<4).map { _ -> (Image, Image) in
                    let (src, dst) = task.pairs[rng.int(in: 0..<task.pairs.count)]
                    return (try Image.read(src), try Image.read(dst))
                }
                let context = grid(pairs.map(\.0))
                if rng.nextFloat() < identityShare {
                    (targets, contexts, prompts) = (targets + [context], contexts + [context], prompts + [""])
                } else {
                    (targets, contexts, prompts) = (targets + [grid(pairs.map(\.1))], contexts + [context], prompts + [task.caption])
                }
            }
            let batch = KontextBatch(targets: targets, contexts: contexts, prompts: prompts, codec: codec, textEncoder: text)
            let t = FlowMatching.trainingTimesteps(batch: o.batch, rng: &rng)
            let eps = rng.normal(batch.target.shape)
            let v = batch.velocity(model, x: FlowMatching.noised(x0: batch.target, eps: eps, t: t),
                                   t: Tensor(shape: [o.batch], data: t), guidance: Tensor.ones([o.batch]))
            // Unweighted: the release's bell weighting is ~0 near t = 1, fine for fine-tuning a
            // pretrained editor but, from scratch, it leaves the high-noise end (where sampling
            // starts) untrained.
            let loss = FlowMatching.loss(prediction: v, target: FlowMatching.velocityTarget(x0: batch.target, eps: eps), t: t, weighted: false)
            loss.backward()
            return (loss.item(), [:])
        }
        let dir = out + "/" + folder
        try AtomicFile.createFolder(dir)
        try Safetensors.write(p.all.map { ($0.key, $0.tensor) }, dtype: .f32, metadata: ["format": "pt"], to: dir + "/diffusion_pytorch_model.safetensors")
        try writeConfig(config, marker: ["_class_name": "FluxTransformer2DModel"], to: dir + "/config.json")
        return summary
    }

    /// A 2x2 grid of four equal pictures, row-major.
    public static func grid(_ images: [Image]) -> Image {
        let (w, h) = (images[0].width, images[0].height)
        var g = Image(width: 2 * w, height: 2 * h, color: [0, 0, 0])
        for (i, im) in images.enumerated() { g.paste(im.rgb(), x: (i % 2) * w, y: (i / 2) * h) }
        return g
    }

    /// Text-guided edits of `samples` by a base editor: the grid [a, b; a, b] with the task's
    /// caption, generated with `steps` Euler steps; returns the mean PSNR (dB) against [a', b'; a', b'].
    public static func evaluate(_ model: FluxTransformer, data: SmallWorldDataset, samples: [SampleRecord], steps: Int = 20, seed: UInt64 = 0) throws -> Double {
        let codec = SpaceToDepthCodec(), text = HashedTextEncoder(width: model.config.jointAttentionDim, pooledWidth: model.config.pooledProjectionDim)
        var rng = RNG(seed: seed)
        var total = 0.0
        for chunk in stride(from: 0, to: samples.count, by: 16) {
            let part = Array(samples[chunk..<min(chunk + 16, samples.count)])
            let quads = try part.map { try data.images($0) }
            let contexts = quads.map { grid([$0.a, $0.b, $0.a, $0.b]) }, truths = quads.map { grid([$0.aPrime, $0.bPrime, $0.aPrime, $0.bPrime]) }
            let batch = KontextBatch(targets: truths, contexts: contexts, prompts: part.map(\.caption), codec: codec, textEncoder: text)
            let guidance = Tensor.ones([part.count])
            let x = FlowMatching.sample(steps: steps, imageSeqLen: batch.target.shape[1], initialNoise: rng.normal(batch.target.shape)) { x, t in
                batch.velocity(model, x: x, t: Tensor.full([part.count], t), guidance: guidance)
            }
            for (made, truth) in zip(try batch.images(from: x, codec: codec), truths) { total += psnr(made, truth) }
        }
        return total / Double(max(samples.count, 1))
    }
}

/// Peak signal-to-noise ratio in dB of two same-size 8-bit pictures (capped at 100 for identical ones).
public func psnr(_ a: Image, _ b: Image) -> Double {
    precondition(a.width == b.width && a.height == b.height && a.channels == b.channels, "psnr: pictures differ in size")
    var se = 0.0
    for (x, y) in zip(a.pixels, b.pixels) { let d = Double(x) - Double(y); se += d * d }
    return EditMetrics.psnrFromMSE(se / Double(a.pixels.count))
}
