import Foundation
import Formats
import Models
import Tensor
import Training
import SmallWorld

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

/// `path` made absolute and tidied (no "." or ".." parts), so that a resume given the same folder
/// by another spelling is not taken for a change of data, and provenance names a file anywhere.
public func absolutePath(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

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
    public static let preprocessorFile = "preprocessor_config.json"

    /// Trains the encoder on the training triplets by two contrastive terms, then writes it as a
    /// Hugging Face CLIP vision folder `RUN/encoder` (config.json + model.safetensors +
    /// preprocessor_config.json); checkpoints and metrics.jsonl go to `RUN/encoder-training`.
    ///
    /// - The edit term: E(a') - E(a) of a triplet must match its own E(b') - E(b) against the
    ///   other triplets' differences (NT-Xent). It uses only the pairing the training data
    ///   already has, never a task or split label. LoRWeB's query is read from these
    ///   embeddings, and with SimCLR alone the difference told the task 14.7% of the time (a
    ///   linear probe over 135 tasks; chance 0.7%): the mixed LoRA could hardly depend on the analogy.
    /// - SimCLR's term: a picture against a shifted, noisy view of itself, so that single
    ///   embeddings stay faithful to the picture (the query also reads E(b)).
    @discardableResult
    public static func run(data: SmallWorldDataset, out: String, options o: PretrainOptions, resume: Bool,
                           config: CLIPVisionConfig = .smallWorld) throws -> TrainingLoop.Summary {
        let triplets = data.samples(.train)
        guard triplets.count >= max(2, o.batch) else { throw FormatError(data.folder, "has \(triplets.count) training triplets; pretrain-encoder needs at least \(max(2, o.batch)) (one batch)") }
        let p = Parameters.initialising(seed: o.seed)
        let model = try CLIPVision(p, config: config)
        for (_, t) in p.all { t.requiresGrad = true }
        let preprocess = CLIPPreprocessor(size: config.imageSize)
        let optimizer = AdamW(p.all, config: AdamWConfig(learningRate: o.learningRate, beta1: 0.9, beta2: 0.99, weightDecay: 0.05))
        var loop = TrainingLoop(totalSteps: o.steps, checkpointEvery: o.checkpointEvery, runFolder: out + "/" + folder + "-training")
        loop.schedule = .cosine(steps: o.steps, minFactor: 0.1)
        loop.dataOrder = DataOrder(count: triplets.count, batchSize: o.batch, seed: o.seed)
        loop.config = try TrainingLoop.settings(o, ["data": absolutePath(data.folder), "objective": "edit-pairs+simclr"])
        let order = loop.dataOrder!
        let summary = try loop.run(optimizer: optimizer, rng: RNG(seed: o.seed), resume: resume) { step, rng in
            var rng = rng
            let quads = try order.batch(at: step).map { try data.images(triplets[$0]) }
            let n = quads.count
            let views = quads.map { Contrastive.augment($0.a, rng: &rng) }
            let e = model.imageEmbeds(preprocess.batch(quads.map(\.a) + quads.map(\.aPrime) + quads.map(\.b) + quads.map(\.bPrime) + views))
            let part = { (k: Int) in e.sliced(axis: 0, (k * n)..<((k + 1) * n)) }
            let edits = Contrastive.ntXent(Tensor.concat([part(1) - part(0), part(3) - part(2)], axis: 0))
            let pictures = Contrastive.ntXent(Tensor.concat([part(0), part(4)], axis: 0))
            let loss = edits + pictures
            loss.backward()
            return (loss.item(), ["edit_loss": Double(edits.item()), "picture_loss": Double(pictures.item())])
        }
        try save(model, parameters: p, to: out + "/" + folder)
        return summary
    }

    static func save(_ model: CLIPVision, parameters p: Parameters, to folder: String) throws {
        try AtomicFile.createFolder(folder)
        try Safetensors.write(p.all.map { ($0.key, $0.tensor) }, dtype: .f32, metadata: ["format": "pt"], to: folder + "/model.safetensors")
        try writeConfig(model.config, marker: ["model_type": "clip_vision_model", "architectures": ["CLIPVisionModelWithProjection"]],
                        to: folder + "/config.json")
        try JSONFile.write(object: CLIPPreprocessor(size: model.config.imageSize).transformersConfig, to: folder + "/" + preprocessorFile)
    }
}

public enum BasePretraining {
    public static let folder = "base"
    /// Share of training grids whose prompt is empty and whose target is the context itself.
    public static let identityShare: Float = 0.1
    /// Share of training grids in Kontext's analogy layout [a, a'; b, b] -> [a, a'; b, b'] with the
    /// task's caption. The transformer's only position signal is RoPE, which is relative: to edit
    /// one quadrant and copy three, it must learn the layout from content, which a base trained on
    /// uniform grids never did (measured: LoRWeB on such a base left b' as speckle, below "return b").
    public static let analogyShare: Float = 0.5
    /// What the small base predicts and how its training times are drawn for a flow from noise
    /// (a flow from the context shifts them: `trainingTimesteps(source:sourceNoise:)`; see
    /// `PredictionType` and `FlowMatching.logitNormalTimestep`).
    public static let settings = BaseEditorSettings(prediction: .contextResidual, codec: .whitenedSpaceToDepth,
                                                    trainingTimesteps: .logitNormal(mean: 1.5, std: 1))

    /// Training times for a flow that starts from `source`. From the context (noise std `sigma`)
    /// x_t - t c = (1 - t) x0 + t sigma eps: the target shows through at signal-to-noise
    /// (1 - t) / (t sigma), so times drawn as for a noise start would mostly ask the model to read
    /// x0 back out of x_t, seldom to make the edit it must make at t = 1 (measured on one colour task,
    /// 600 steps: 27.0 dB on its training triplets at the old times, 30.3 at these). Shifting the
    /// logit by ln(1 / sigma) trains at the same signal-to-noise ratios as the noise start does.
    public static func trainingTimesteps(source: BaseEditorSettings.FlowSource, sourceNoise sigma: Float) -> TimestepSampling {
        guard case .logitNormal(let mean, let std) = settings.trainingTimesteps!, source == .context, sigma > 0 else {
            return settings.trainingTimesteps!
        }
        return .logitNormal(mean: mean + log(1 / sigma), std: std)
    }

    /// Initial gain of the QK-RMSNorms. At 1 the largest logit a head can form is sqrt(64) = 8, too
    /// flat for a target token to pick out its one context counterpart among 64 (measured at t = 1
    /// after 200 copy steps: counterpart weight <= 0.19 at gain 1, 0.80-0.97 at gain 2); Adam moves
    /// a gain by about lr per step, so training alone does not get there.
    public static let qkGain: Float = 2
    /// The noise (std, whitened units) on the context where a context-sourced base's flow starts:
    /// enough that the flow stays a distribution, little enough that a target token at t = 1
    /// still carries its context's detail (the whitened codec gives detail unit variance too).
    public static let contextSourceNoise: Float = 0.1

    /// Grids of one text-describable training task with its caption: `analogyShare` of them in
    /// Kontext's analogy layout, the others four (before, after) pairs (or, for `identityShare` of
    /// them, the context unchanged under an empty prompt). From scratch, or from the base folder
    /// `start` (its weights and codec) as a second stage. Trained on
    /// every parameter of the small Flux to predict x0 as a correction to the context, with an
    /// unweighted MSE in `lossSpace` and logit-normal times; a fresh codec is whitened with
    /// `whiteningFloor` (a second stage keeps its start's). The editor is written as a diffusers transformer
    /// folder `RUN/base` with its lorweb sidecars (checkpoints and metrics in `RUN/base-training`).
    @discardableResult
    public static func run(data: SmallWorldDataset, out: String, options o: PretrainOptions, resume: Bool,
                           config: FluxConfig = .small, downsampling: Int = BaseEditorSettings.defaultDownsampling,
                           from start: String? = nil, lossSpace: BaseEditorSettings.LossSpace = .pixels,
                           flowSource: BaseEditorSettings.FlowSource = .context,
                           whiteningFloor: Double = WhitenedSpaceToDepthCodec.defaultFloor) throws -> TrainingLoop.Summary {
        var tasks: [String: (caption: String, pairs: [(String, String)], triplets: [SampleRecord])] = [:]
        for s in data.samples(.train) where s.textDescribable {
            tasks[s.task, default: (s.caption, [], [])].pairs += [(data.path(s.a), data.path(s.aPrime)), (data.path(s.b), data.path(s.bPrime))]
            tasks[s.task]!.triplets.append(s)
        }
        let taskIDs = tasks.keys.sorted()
        guard !taskIDs.isEmpty else { throw FormatError(data.folder, "has no text-describable training triplets for pretrain-base") }
        let p: Parameters, model: FluxTransformer, codec: WhitenedSpaceToDepthCodec
        var sourceNoise = contextSourceNoise
        if let start {
            // A second stage: the weights and codec of an existing base, trained further.
            let startConfig = try FluxConfig.read(start), sidecars = try BaseEditorSettings.read(base: start)
            try LoRWeBModel.checkTokenWidth(startConfig, codec: sidecars, base: start)
            p = Parameters.loading(from: try SafetensorsShards.open(start))
            model = try FluxTransformer(p, config: startConfig)
            try p.validate()
            guard let whitened = sidecars.codec as? WhitenedSpaceToDepthCodec else {
                throw FormatError(start, "is not a base made by pretrain-base (no whitened codec in \(BaseEditorSettings.codecFile))")
            }
            guard sidecars.settings.prediction == settings.prediction else {
                throw FormatError(start, "predicts \(sidecars.settings.prediction.rawValue), but pretrain-base trains \(settings.prediction.rawValue) (start from a base it made, or from scratch without --from)")
            }
            let startSource = sidecars.settings.flowSource ?? .noise
            guard startSource == flowSource else {
                throw FormatError(start, "starts its flow from \(startSource.rawValue), not \(flowSource.rawValue) (give --flow-source \(startSource.rawValue))")
            }
            codec = whitened
            sourceNoise = sidecars.settings.flowSourceNoise ?? sourceNoise
        } else {
            codec = try WhitenedSpaceToDepthCodec.fit(try trainingPictures(data).map { path in
                let im = try Image.read(path).rgb()
                return im.tensor(range: .signed).reshaped([1, 3, im.height, im.width])
            }, factor: downsampling, floor: whiteningFloor)
            p = Parameters.initialising(seed: o.seed)
            var config = config
            (config.inChannels, config.outChannels) = (4 * codec.latentChannels, nil)
            model = try FluxTransformer(p, config: config)
            initialiseForEditing(p)
        }
        let config = model.config
        var written = settings
        written.downsampling = codec.downsampling
        written.lossSpace = lossSpace
        (written.flowSource, written.flowSourceNoise) = flowSource == .context ? (.context, sourceNoise) : (.noise, nil)
        written.trainingTimesteps = trainingTimesteps(source: flowSource, sourceNoise: sourceNoise)
        for (_, t) in p.all { t.requiresGrad = true }
        let text = HashedTextEncoder(width: config.jointAttentionDim, pooledWidth: config.pooledProjectionDim)
        let optimizer = AdamW(p.all, config: AdamWConfig(learningRate: o.learningRate, beta1: 0.9, beta2: 0.99, weightDecay: 0.05))
        var loop = TrainingLoop(totalSteps: o.steps, checkpointEvery: o.checkpointEvery, runFolder: out + "/" + folder + "-training")
        loop.schedule = .cosine(steps: o.steps, minFactor: 0.1)
        var recorded: [String: Any] = ["data": absolutePath(data.folder), "from": start.map(absolutePath) ?? "",
                                       "downsampling": String(codec.downsampling), "loss_space": lossSpace.rawValue, "flow_source": flowSource.rawValue]
        if start == nil { recorded["whitening_floor"] = whiteningFloor }
        loop.config = try TrainingLoop.settings(o, recorded)
        let summary = try loop.run(optimizer: optimizer, rng: RNG(seed: o.seed), resume: resume) { _, rng in
            var rng = rng
            var targets: [Image] = [], contexts: [Image] = [], prompts: [String] = []
            for _ in 0..<o.batch {
                let task = tasks[taskIDs[rng.int(in: 0..<taskIDs.count)]]!
                let draw = rng.nextFloat()
                if (identityShare..<(identityShare + analogyShare)).contains(draw) {
                    // Kontext's analogy layout, as LoRWeB uses it: edit the bottom-right quadrant only.
                    let s = task.triplets[rng.int(in: 0..<task.triplets.count)]
                    let q = try data.images(s)
                    (targets, contexts, prompts) = (targets + [grid([q.a, q.aPrime, q.b, q.bPrime])], contexts + [grid([q.a, q.aPrime, q.b, q.b])],
                                                    prompts + [task.caption])
                    continue
                }
                let pairs = try (0..<4).map { _ -> (Image, Image) in
                    let (src, dst) = task.pairs[rng.int(in: 0..<task.pairs.count)]
                    return (try Image.read(src), try Image.read(dst))
                }
                let context = grid(pairs.map(\.0))
                if draw < identityShare {
                    (targets, contexts, prompts) = (targets + [context], contexts + [context], prompts + [""])
                } else {
                    (targets, contexts, prompts) = (targets + [grid(pairs.map(\.1))], contexts + [context], prompts + [task.caption])
                }
            }
            let batch = KontextBatch(targets: targets, contexts: contexts, prompts: prompts, codec: codec, textEncoder: text)
            let t = written.trainingTimesteps!.draw(batch: o.batch, rng: &rng)
            // Unweighted: the release's bell weighting is ~0 near t = 1, fine for fine-tuning a
            // pretrained editor but, from scratch, it leaves the high-noise end (where sampling
            // starts) untrained.
            let loss = batch.flowLoss(model, prediction: settings.prediction, start: written.flowStart, space: lossSpace, codec: codec,
                                      t: t, noise: rng.normal(batch.target.shape), weighted: false)
            loss.backward()
            return (loss.item(), [:])
        }
        let dir = out + "/" + folder
        try AtomicFile.createFolder(dir)
        try Safetensors.write(p.all.map { ($0.key, $0.tensor) }, dtype: .f32, metadata: ["format": "pt"], to: dir + "/diffusion_pytorch_model.safetensors")
        try writeConfig(config, marker: ["_class_name": "FluxTransformer2DModel"], to: dir + "/config.json")
        try written.write(codec: codec, to: dir)
        return summary
    }

    /// DiT's adaLN-Zero (every block starts as the identity and the output as zero: measured, a
    /// copy loss of 0.65 against 0.93 at step 100) and sharper QK-norm gains (`qkGain`).
    static func initialiseForEditing(_ p: Parameters) {
        let zeroed = ["norm1.linear.", "norm1_context.linear.", "norm.linear.", "norm_out.linear."]
        let gains = ["norm_q.weight", "norm_k.weight", "norm_added_q.weight", "norm_added_k.weight"]
        for (key, t) in p.all {
            if zeroed.contains(where: { key.hasPrefix($0) || key.contains("." + $0) }) || key.hasPrefix("proj_out.") {
                for i in 0..<t.count { t.data[i] = 0 }
            } else if gains.contains(where: { key.hasSuffix("." + $0) }) {
                for i in 0..<t.count { t.data[i] = qkGain }
            }
        }
    }

    /// A 2x2 grid of four pictures of one size, row-major.
    public static func grid(_ images: [Image]) -> Image {
        let (w, h) = (images[0].width, images[0].height)
        var g = Image(width: 2 * w, height: 2 * h, color: [0, 0, 0])
        for (i, im) in images.enumerated() { g.paste(im.rgb(), x: (i % 2) * w, y: (i / 2) * h) }
        return g
    }

    /// Mean PSNR (dB) of a base editor's results on `samples`, and of returning its input unchanged.
    public struct Score { public var psnr: Double, inputPSNR: Double }

    /// Text-guided edits of `samples` by a base editor: the grid [a, b; a, b] with the task's
    /// caption, generated with `steps` Euler steps, scored against [a', b'; a', b']. With `copy`
    /// the prompt is empty and the truth is the context itself (the editor must reproduce it).
    public static func evaluate(_ model: FluxTransformer, settings: BaseEditorSettings, codec: LatentCodec, data: SmallWorldDataset,
                                samples: [SampleRecord], steps: Int = 20, copy: Bool = false, seed: UInt64 = 0) throws -> Score {
        var rng = RNG(seed: seed)
        var score = Score(psnr: 0, inputPSNR: 0)
        for (batch, contexts, truths) in try evaluationBatches(model, codec: codec, data: data, samples: samples, copy: copy) {
            let guidance = Tensor.ones([contexts.count])
            let x = FlowMatching.sample(steps: steps, imageSeqLen: batch.target.shape[1], initialNoise: batch.flowStart(settings.flowStart, noise: rng.normal(batch.target.shape))) { x, t in
                batch.velocity(model, prediction: settings.prediction, x: x, t: t, guidance: guidance)
            }
            for ((made, truth), context) in zip(zip(try batch.images(from: x, codec: codec), truths), contexts) {
                score.psnr += psnr(made, truth)
                score.inputPSNR += psnr(context, truth)
            }
        }
        let n = Double(max(samples.count, 1))
        return Score(psnr: score.psnr / n, inputPSNR: score.inputPSNR / n)
    }

    /// The evaluation grids of `samples` in batches of 16: contexts [a, b; a, b] and their truths
    /// (the context itself with an empty prompt for `copy`, else [a', b'; a', b'] with the caption).
    static func evaluationBatches(_ model: FluxTransformer, codec: LatentCodec, data: SmallWorldDataset, samples: [SampleRecord],
                                  copy: Bool) throws -> [(batch: KontextBatch, contexts: [Image], truths: [Image])] {
        let text = HashedTextEncoder(width: model.config.jointAttentionDim, pooledWidth: model.config.pooledProjectionDim)
        return try stride(from: 0, to: samples.count, by: 16).map { chunk in
            let part = Array(samples[chunk..<min(chunk + 16, samples.count)])
            let quads = try part.map { try data.images($0) }
            let contexts = quads.map { grid([$0.a, $0.b, $0.a, $0.b]) }
            let truths = copy ? contexts : quads.map { grid([$0.aPrime, $0.bPrime, $0.aPrime, $0.bPrime]) }
            let batch = KontextBatch(targets: truths, contexts: contexts, prompts: copy ? part.map { _ in "" } : part.map(\.caption),
                                     codec: codec, textEncoder: text)
            return (batch, contexts, truths)
        }
    }

    /// Where along the flow a base loses its input: for each time t, the mean PSNR of its one-shot
    /// x0 estimate from the true x_t = (1 - t) x0 + t x1 (x1 where its flow starts) on the copy task (empty prompt, target =
    /// context). A sampler visits every t of its schedule, so a weak t costs every multi-step sample.
    public static func copyProfile(_ model: FluxTransformer, settings: BaseEditorSettings, codec: LatentCodec, data: SmallWorldDataset,
                                   samples: [SampleRecord], times: [Float], seed: UInt64 = 0) throws -> [Double] {
        var rng = RNG(seed: seed)
        var total = [Double](repeating: 0, count: times.count)
        for (batch, contexts, _) in try evaluationBatches(model, codec: codec, data: data, samples: samples, copy: true) {
            let x1 = batch.flowStart(settings.flowStart, noise: rng.normal(batch.target.shape)), guidance = Tensor.ones([contexts.count])
            for (i, t) in times.enumerated() {
                let x = FlowMatching.noised(x0: batch.target, eps: x1, t: Array(repeating: t, count: contexts.count))
                let v = withNoGrad { batch.velocity(model, prediction: settings.prediction, x: x, t: t, guidance: guidance) }
                let x0 = FlowMatching.eulerStep(x: x, v: v, sigma: t, sigmaNext: 0)
                for (made, truth) in zip(try batch.images(from: x0, codec: codec), contexts) { total[i] += psnr(made, truth) }
            }
        }
        return total.map { $0 / Double(max(samples.count, 1)) }
    }
}

/// Peak signal-to-noise ratio in dB of two same-size 8-bit pictures (capped at 100 for identical ones).
public func psnr(_ a: Image, _ b: Image) -> Double {
    precondition(a.width == b.width && a.height == b.height && a.channels == b.channels, "psnr: pictures differ in size")
    var se = 0.0
    for (x, y) in zip(a.pixels, b.pixels) { let d = Double(x) - Double(y); se += d * d }
    return EditMetrics.psnrFromMSE(se / Double(a.pixels.count))
}
