import Foundation
import Formats
import Models
import Tensor

// A LoRWeB editor as the paper's Figure 2 draws it: the frozen Kontext base with a LoRA basis on
// every block Linear, the frozen image encoder whose embeddings of a, a', b form the query, and
// the latent codec and text encoder around them. One class serves training (fresh adapters)
// and inference (a run folder).

public final class LoRWeBModel {
    public let config: RunConfig
    public let base: FluxTransformer
    public let adapters: LoRWeBAdapters
    public let encoder: ImageEncoder
    public let codec: LatentCodec
    /// What the base's output is (its `lorweb_base.json`; Flux-Kontext's velocity without one).
    public let prediction: PredictionType
    /// Euler steps when a caller does not choose: what the base's settings recommend, else 28.
    public let defaultSteps: Int
    /// The noise levels the adapters train on: the base's own (its settings), else the release's.
    public let trainingTimesteps: TimestepSampling
    /// Where the adapters' loss measures errors: where the base's did.
    public let lossSpace: BaseEditorSettings.LossSpace
    /// Where the base's flow starts: its adapters train and sample from there too.
    public let flowStart: FlowStart
    public let text: TextEncoder

    /// Grids are generated at about `resolution`^2 pixels, sides multiples of `divisibility`
    /// (the release: 512 / 64 for training buckets on a 1024-pixel model; the small world's
    /// model was pretrained on 64 x 64 grids).
    public static let defaultResolution = 64
    public static let divisibility = 16

    public var resolution: Int { config.gridResolution ?? Self.defaultResolution }

    init(config: RunConfig, base: FluxTransformer, baseSettings: (settings: BaseEditorSettings, codec: LatentCodec),
         adapters: LoRWeBAdapters, encoder: ImageEncoder) {
        self.config = config
        self.base = base
        codec = baseSettings.codec
        prediction = baseSettings.settings.prediction
        defaultSteps = baseSettings.settings.steps
        trainingTimesteps = baseSettings.settings.trainingTimesteps ?? .release
        lossSpace = baseSettings.settings.lossSpace ?? .latents
        flowStart = baseSettings.settings.flowStart
        self.adapters = adapters
        self.encoder = encoder
        text = HashedTextEncoder(width: base.config.jointAttentionDim, pooledWidth: base.config.pooledProjectionDim)
    }

    /// Fresh adapters (the release's init: B = 0, so the model starts as the base) on the
    /// release's layer set of the base in `basePath`, with the encoder in `encoderPath`.
    /// `basePath` / `encoderPath` are recorded relative to `runFolder` when given.
    public static func create(basePath: String, encoderPath: String, n: Int, r: Int, keysDim: Int = 128, heads: Int = 1,
                              softmax: Bool = true, scale: Float = 1, queryMode: QueryMode = .concatenated,
                              resolution: Int = defaultResolution, seed: UInt64, runFolder: String? = nil,
                              trainingBatch: Int? = nil) throws -> LoRWeBModel
    {
        guard keysDim % heads == 0 else { throw ValidationFailure("the key width \(keysDim) is not divisible by \(heads) heads") }
        let (base, baseSettings) = try loadBase(basePath)
        let encoder = ImageEncoder(model: try CLIPVision.load(encoderPath))
        let adapter = LoRABasisConfig(n: n, r: r, keysDim: keysDim, queryDim: queryMode.queryDim(embedding: encoder.embeddingWidth),
                                      heads: heads, softmax: softmax, mixing: .mean, scale: scale)
        if let trainingBatch {
            let bytes = trainingBytes(base: base, adapter: adapter, batch: trainingBatch, resolution: resolution)
            if let problem = MemoryBudget.excess(bytes, for: "training n \(n), r \(r), key width \(keysDim) at batch \(trainingBatch)") {
                throw ValidationFailure(problem)
            }
        }
        let adapters = try LoRWeBAdapters(Parameters.initialising(seed: seed), attachingTo: base, config: adapter)
        for (_, t) in adapters.namedParameters { t.requiresGrad = true }
        var config = RunConfig(adapter: adapter, queryMode: queryMode, base: base.config, encoder: encoder.model.config,
                               basePath: runFolder.map { relativePath(basePath, from: $0) } ?? basePath,
                               encoderPath: runFolder.map { relativePath(encoderPath, from: $0) } ?? encoderPath)
        config.gridResolution = resolution
        return LoRWeBModel(config: config, base: base, baseSettings: baseSettings, adapters: adapters, encoder: encoder)
    }

    /// A lower bound of the bytes training `adapter` on `base` with batches of `batch` grids of
    /// `resolution` pixels holds, from the sizes alone: 16 bytes per adapter parameter (weights, gradients and Adam's two
    /// moments), and per grid the input, output and LoRA hidden state of every adapted layer
    /// for its target and context tokens, kept for the backward pass and matched by a gradient.
    public static func trainingBytes(base: FluxTransformer, adapter c: LoRABasisConfig, batch: Int, resolution: Int) -> Double {
        let (n, r) = (Double(c.n), Double(c.r))
        let tokens = 2 * Double(resolution / 8) * Double(resolution / 8)
        var parameters = 0.0, activations = 0.0
        for (_, linear) in base.adaptableLinears {
            let (inputs, outputs) = (Double(linear.inFeatures), Double(linear.outFeatures))
            parameters += n * r * (inputs + outputs) + n * Double(c.keysDim) + Double(c.keysDim) * Double(c.queryDim)
            activations += tokens * (inputs + outputs + n * r)
        }
        return 16 * parameters + 2 * 4 * Double(batch) * activations
    }

    /// A run folder written by `lorweb train` (or the shipped default model): its adapters on
    /// the base and encoder its lorweb.json names.
    public static func load(_ folder: String) throws -> LoRWeBModel {
        let config = try RunCheckpoint.config(in: folder)
        let configPath = folder + "/" + RunCheckpoint.configFile
        guard let basePath = config.basePath, let encoderPath = config.encoderPath else {
            throw FormatError(configPath, "does not say where the base model and image encoder are (base_path / encoder_path)")
        }
        func resolve(_ p: String) -> String { RunConfig.resolve(p, in: folder) }
        let (base, baseSettings) = try loadBase(resolve(basePath))
        let encoder = ImageEncoder(model: try CLIPVision.load(resolve(encoderPath)))
        let (_, adapters) = try RunCheckpoint.load(folder, attachingTo: base)
        let expected = config.queryMode.queryDim(embedding: encoder.embeddingWidth)
        guard expected == config.adapter.queryDim else {
            throw FormatError(resolve(encoderPath), "its \(encoder.embeddingWidth)-d embeddings give a \(expected)-d query; the adapters expect \(config.adapter.queryDim)")
        }
        return LoRWeBModel(config: config, base: base, baseSettings: baseSettings, adapters: adapters, encoder: encoder)
    }

    /// The base in `path` with its sidecars, refused before its weights are read when it does not fit its codec.
    static func loadBase(_ path: String) throws -> (FluxTransformer, (settings: BaseEditorSettings, codec: LatentCodec)) {
        let config = try FluxConfig.read(path)
        let sidecars = try BaseEditorSettings.read(base: path)
        try checkTokenWidth(config, codec: sidecars, base: path)
        return (try FluxTransformer.load(path, config: config), sidecars)
    }

    /// Refuses a base whose token width is not what its codec makes (a stock Flux's 64 or 16
    /// against the small world's 192): the mismatch would otherwise surface as a shape failure
    /// deep inside the first forward pass.
    static func checkTokenWidth(_ config: FluxConfig, codec sidecars: (settings: BaseEditorSettings, codec: LatentCodec), base path: String) throws {
        let latent = sidecars.codec.latentChannels, tokens = 4 * latent
        guard config.inChannels == tokens, config.outputChannels == tokens else {
            throw FormatError(path + "/config.json", "in_channels \(config.inChannels), out_channels \(config.outputChannels): lorweb's "
                              + "\(sidecars.settings.codec.rawValue) codec makes \(tokens)-d tokens (\(latent) latent channels packed 2x2), "
                              + "so a base for it needs in_channels = out_channels = \(tokens)")
        }
    }

    /// Writes the adapters and lorweb.json into `folder`.
    public func save(to folder: String, info: [String: String] = [:]) throws {
        var c = config
        c.info.merge(info) { $1 }
        try RunCheckpoint.save(adapters, config: c, to: folder)
    }

    /// The query [B, qdim] of analogies given as conditioning grids, without gradients.
    public func query(grids: [Image], convention: AnalogyGrid.QueryConvention = .inference) -> Tensor {
        AnalogyQuery.make(grids: grids, convention: convention, encoder: encoder, mode: config.queryMode)
    }

    /// Per-layer coefficients [B, layers, n] for queries [B, qdim].
    public func coefficients(_ query: Tensor) -> Tensor { withNoGrad { adapters.coefficients(query) } }

    /// The size the grid of an analogy is generated at: the aspect bucket of the conditioning
    /// grid at `resolution`.
    public func generationSize(gridWidth: Int, gridHeight: Int) throws -> (width: Int, height: Int) {
        guard let size = AspectBuckets.bucket(width: gridWidth, height: gridHeight, resolution: resolution, divisibility: Self.divisibility) else {
            throw ValidationFailure("a \(gridWidth)x\(gridHeight) grid is too small for \(Self.divisibility)-pixel buckets")
        }
        return size
    }

    /// One generated analogy.
    public struct Edit {
        /// b' at b's size.
        public var bPrime: Image
        /// The whole generated grid.
        public var grid: Image
        /// Per-layer coefficients [layers, n] that mixed the basis.
        public var coefficients: Tensor
    }

    /// Edits analogies of one grid size: for each (a, a', b) the conditioning grid (a' and b
    /// resized to a's size, as the release's inference does) is fitted to its bucket, the grid
    /// is generated from noise with `steps` Euler steps of the shifted schedule, and b' is its
    /// bottom-right quadrant resized to b's size. Item i's noise comes from `RNG(seed).fork(i +
    /// firstIndex)`, so an analogy gets the same noise whichever batch it is in. With `adapters`
    /// false the base edits alone (the coefficients are still reported). With `coefficients`
    /// [B, layers, n] the basis is mixed by those instead of the analogies' own.
    public func edit(_ triplets: [(a: Image, aPrime: Image, b: Image)], prompts: [String], steps: Int, seed: UInt64,
                     guidance: Float = 1, firstIndex: Int = 0, adapters useAdapters: Bool = true,
                     coefficients given: Tensor? = nil) throws -> [Edit]
    {
        if let given {
            precondition(given.shape == [triplets.count, adapters.layers.count, config.adapter.n],
                         "edit: coefficients \(given.shape) are not [\(triplets.count), \(adapters.layers.count), \(config.adapter.n)]")
        }
        precondition(!triplets.isEmpty && prompts.count == triplets.count, "edit: \(triplets.count) triplets, \(prompts.count) prompts")
        let grids = triplets.map { AnalogyGrid.conditioning(a: $0.a, aPrime: $0.aPrime, b: $0.b) }
        let size = try generationSize(gridWidth: grids[0].width, gridHeight: grids[0].height)
        for g in grids.dropFirst() where g.width != grids[0].width || g.height != grids[0].height {
            throw ValidationFailure("edit: a batch mixes grid sizes \(grids[0].width)x\(grids[0].height) and \(g.width)x\(g.height)")
        }
        let contexts = grids.map { $0.width == size.width && $0.height == size.height ? $0 : $0.resized(width: size.width, height: size.height) }
        let batch = KontextBatch(targets: contexts, contexts: contexts, prompts: prompts, codec: codec, textEncoder: text)
        let tokenShape = Array(batch.target.shape.dropFirst())
        let root = RNG(seed: seed)
        let noise = Tensor.concat((0..<triplets.count).map { i in
            var rng = root.fork(UInt64(firstIndex + i))
            return rng.normal([1] + tokenShape)
        }, axis: 0)
        let b = triplets.count, g = Tensor.full([b], guidance)
        // The coefficients depend on the analogy alone, not on x or t: the basis is mixed and
        // merged into the weights once here, and every Euler step runs plain Linears.
        let coefficients = given ?? self.coefficients(query(grids: grids))
        let input: AdapterInput? = useAdapters ? adapters.merged(into: base, coefficients: coefficients) : nil
        let x = FlowMatching.sample(steps: steps, imageSeqLen: batch.target.shape[1], initialNoise: batch.flowStart(flowStart, noise: noise)) { x, t in
            batch.velocity(base, prediction: prediction, x: x, t: t, guidance: g, adapters: input)
        }
        let made = try batch.images(from: x, codec: codec)
        return made.enumerated().map { i, grid in
            let bSize = triplets[i].b
            return Edit(bPrime: AnalogyGrid.bottomRight(grid).resized(width: bSize.width, height: bSize.height), grid: grid,
                        coefficients: coefficients.sliced(axis: 0, i..<(i + 1)).reshaped([adapters.layers.count, config.adapter.n]))
        }
    }
}

/// A bad argument or input combination found while working (not a file format problem).
public struct ValidationFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `path` relative to `folder` (both made absolute first), for paths recorded in a run folder
/// that must survive moving the repository.
func relativePath(_ path: String, from folder: String) -> String {
    func parts(_ p: String) -> [String] {
        URL(fileURLWithPath: p).standardizedFileURL.pathComponents.filter { $0 != "/" }
    }
    let target = parts(path), base = parts(folder)
    var common = 0
    while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
    let up = Array(repeating: "..", count: base.count - common)
    let rest = up + target[common...]
    return rest.isEmpty ? "." : rest.joined(separator: "/")
}
