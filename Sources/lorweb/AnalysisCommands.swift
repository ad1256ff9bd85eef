import Analysis
import ArgumentParser
import Figures
import Foundation
import Formats
import Models
import Pipeline
import Tensor

/// The encoder that embeds analogies for `stream`'s model, and its folder: a run folder's own
/// encoder, or the CLIP folder `--clip` names for the authors' adapter file (which ships none).
func analogyEncoder(for stream: AdapterStream, clip: String?) throws -> (folder: String, encoder: ImageEncoder) {
    if let run = stream.runFolder {
        guard clip == nil else { throw ValidationError("--clip is for the authors' adapter file; a run folder embeds with its own encoder") }
        guard let folder = stream.encoderPath else {
            throw FormatError(run + "/" + RunCheckpoint.configFile, "does not say where the image encoder is (encoder_path)")
        }
        return (folder, ImageEncoder(model: try CLIPVision.load(folder)))
    }
    guard let clip else { throw ValidationError("the authors' adapter file needs --clip DIR (a Hugging Face CLIP folder) to embed the images") }
    return (clip, ImageEncoder(model: try CLIPVision.load(clip)))
}

/// A model for coefficient analyses: a run folder or the authors' adapter file, its layers
/// streamed (no base model is loaded), and the encoder that embeds its analogies.
struct AnalysisModel {
    let stream: AdapterStream
    let encoder: ImageEncoder

    init(_ option: ModelOption, clip: String?, config: String?) throws {
        stream = try AdapterStream(model: try option.resolved(), configPath: config)
        encoder = try analogyEncoder(for: stream, clip: clip).encoder
    }

    /// Coefficients [T, L, n] of the triplets, with progress lines.
    func coefficients(_ triplets: [LabelledTriplet]) throws -> Tensor {
        let embed = ProgressLine(label: "coeffs: embedding", unit: "triplets")
        let queries = try CoefficientEmbedding.queries(triplets, encoder: encoder, mode: stream.queryMode) { embed.update($0, $1) }
        embed.finish()
        let layers = ProgressLine(label: "coeffs: layers", unit: "layers")
        defer { layers.finish() }
        return try CoefficientEmbedding.coefficients(stream, queries: queries) { layers.update($0, $1) }
    }
}

struct Coeffs: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "Coefficient embeddings of many triplets: the per-layer mixing coefficients [triplets, layers, n].",
        discussion: """
            --triplets is a CSV list (columns a, a_prime, b; optional id, task, family) or a small-world folder (its
            manifest's samples, with task, family and split; --split filters). Writes FILE.npy [triplets, layers, n]
            float32, the index FILE.csv (row, id, task, family, split, a, a_prime, b) and FILE.layers.txt. A run folder
            embeds with its own encoder, the authors' adapter file needs --clip DIR; both stream their layers.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOption: ModelOption
    @Option(help: "A CSV list of triplets or a small-world folder.") var triplets: String
    @Option(help: "train, seen or unseen, or several comma-separated (small-world folder only).") var split: String?
    @Option(help: "At most this many triplets, taken round-robin over tasks.") var limit: Int?
    @Option(help: "A Hugging Face CLIP folder to embed images, for the authors' adapter file.") var clip: String?
    @Option(help: "The ai-toolkit config.yaml of the authors' adapter (default: config.yaml beside it).") var config: String?
    @Option(help: "Output .npy (FILE.csv and FILE.layers.txt are written beside it).") var out: String

    func execute() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        guard out.lowercased().hasSuffix(".npy") else { throw ValidationError("--out must end in .npy") }
        let list = try CoefficientEmbedding.triplets(triplets, split: split, limit: limit)
        let stem = (out as NSString).deletingPathExtension
        try checkOutputs([out, stem + ".csv", stem + ".layers.txt"],
                         inputs: InputFiles([triplets, try modelOption.resolved(), clip, config] + images(of: TripletList(list.map(\.triplet)))))
        let model = try AnalysisModel(modelOption, clip: clip, config: config)
        let c = try model.coefficients(list)
        try CoefficientEmbedding.write(c, triplets: list, layers: model.stream.layers, to: out)
        print("coeffs: \(list.count) triplets x \(c.shape[1]) layers x \(c.shape[2]) -> \(out) (+ .csv, .layers.txt)")
    }
}

struct PCA: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "pca",
        abstract: "PCA of the triplets' mixed LoRAs (per layer and pooled, under the Gram metric) and of the raw coefficients.",
        discussion: """
            The mixed LoRAs Delta W_t = sum_i alpha_ti A_i B_i are never formed: in coefficient space with the metric
            G_ij = <A_i B_i, A_j B_j>_F the PCA is exactly that of the vectorised Delta Ws. Writes into --out:
              pooled_variance.npy, pooled_scores.npy [T, c]   all layers' Delta Ws as one vector per triplet
              layer_variance.npy [L, min(T, n)], layer_scores.npy [L, T, 2]
              raw_variance.npy, raw_scores.npy [T, c]         the flattened coefficients [T, L n], Euclidean
              explained_variance.csv, and figures (PNG + SVG): explained_variance, scatter_{pooled,raw}_{task,family}
            Labels come from the index FILE.csv that `lorweb coeffs` writes beside FILE.npy.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOption: ModelOption
    @Option(help: "Coefficients .npy [triplets, layers, n] from `lorweb coeffs`.") var coeffs: String
    @Option(help: "Principal components to keep.") var components = 10
    @Option(help: "Output folder.") var out: String

    func execute() throws {
        guard components >= 2 else { throw ValidationError("--components must be at least 2") }
        let modelPath = try modelOption.resolved()
        try checkOutputFolder(out, inputs: [coeffs, modelPath, (coeffs as NSString).deletingPathExtension + ".csv"])
        let c = try NPY.read(coeffs)
        if let problem = c.nonFiniteProblem(what: "the coefficients") { throw FormatError(coeffs, problem) }
        let stream = try AdapterStream(model: modelPath, mixing: false)
        guard c.rank == 3, c.shape[1] == stream.layers.count, c.shape[2] == stream.config.n else {
            throw FormatError(coeffs, "shape \(c.shape) is not [triplets, \(stream.layers.count) layers, n \(stream.config.n)] of this model")
        }
        let progress = ProgressLine(label: "pca: Gram matrices", unit: "layers")
        let grams = try stream.map(progress: { progress.update($0, $1) }) { _, basis in try LayerFactors(basis).gram() }
        progress.finish()
        let result = try MixedLoRAPCA.analyse(coefficients: c, grams: grams, scale: stream.config.scale, components: components)
        try MixedLoRAPCA.write(result, labels: try CoefficientEmbedding.index(of: coeffs), to: out)
        let ratio = result.pooled.explainedRatio
        print(String(format: "pca: %d triplets, %d layers; pooled PC1 %.1f%%, PC1+2 %.1f%% of the variance -> %@", c.shape[0], c.shape[1],
                     100 * ratio[0], 100 * (ratio[0] + (ratio.count > 1 ? ratio[1] : 0)), out))
    }
}

struct Interpolate: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "Walk from one analogy to another on the same b, generating b' along the way (a labelled filmstrip).",
        discussion: """
            --space coeffs interpolates every layer's coefficients linearly; --space query interpolates the query and lets
            each layer re-apply its keys and softmax. Every frame uses the same noise; its conditioning grid cross-fades
            the two (a, a') pairs, so the end frames are the two analogies' own edits. Writes STRIP.png (and .svg), the
            coefficient trajectories STRIP.coeffs.npy [K, layers, n] and STRIP.coeffs.csv (frame, t, layer, c0..).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOption: ModelOption
    @Option(help: "The first analogy's pair: A,A2 (image paths).") var from: String
    @Option(help: "The second analogy's pair: C,C2.") var to: String
    @Option(help: "The image both analogies are applied to.") var b: String
    @Option(help: "Frames, endpoints included.") var steps = 7
    @Option(help: "coeffs or query.") var space = Interpolation.Space.coeffs.rawValue
    @Option(help: "Euler steps of each generation (default: what the base recommends, else 28).") var sampleSteps: Int?
    @Option(help: "Seed of the noise every frame shares.") var seed: UInt64 = 0
    @Option(help: "Guidance input of the base.", transform: finite) var guidance: Float = 1
    @Option(help: "Text prompt (default: none).") var prompt = ""
    @Option(help: "Output filmstrip .png (or .svg; both are written).") var out: String

    func execute() throws {
        guard steps >= 2, (sampleSteps ?? 1) >= 1 else { throw ValidationError("--steps must be at least 2 and --sample-steps at least 1") }
        let s: Interpolation.Space = try choice(space, of: "--space")
        func pair(_ text: String, _ flag: String) throws -> (String, String) {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("\(flag) must be two image paths: X,X2") }
            return (parts[0], parts[1])
        }
        let (fromPaths, toPaths) = (try pair(from, "--from"), try pair(to, "--to"))
        let ext = (out as NSString).pathExtension.lowercased()
        guard ext == "png" || ext == "svg" else { throw ValidationError("--out must end in .png or .svg") }
        let stem = (out as NSString).deletingPathExtension
        try checkOutputs([stem + ".png", stem + ".svg", stem + ".coeffs.npy", stem + ".coeffs.csv"],
                         inputs: InputFiles([fromPaths.0, fromPaths.1, toPaths.0, toPaths.1, b, try modelOption.resolved()]))
        let model = try modelOption.load()
        let sampleSteps = self.sampleSteps ?? model.defaultSteps
        let f = try AnalogyQuery.read(a: fromPaths.0, aPrime: fromPaths.1, b: b), t = try AnalogyQuery.read(a: toPaths.0, aPrime: toPaths.1, b: b)
        let (from, to, bImage) = ((f.a, f.aPrime), (t.a, t.aPrime), f.b)
        let progress = ProgressLine(label: "interpolate", unit: "frames")
        let strip = try Interpolation.run(model, from: from, to: to, b: bImage, steps: steps, space: s, sampleSteps: sampleSteps, seed: seed,
                                          guidance: guidance, prompt: prompt) { progress.update($0, $1) }
        progress.finish()
        try Interpolation.figure(strip, from: from, to: to, b: bImage, space: s).write(stem: stem)
        try NPY.write(strip.coefficients, to: stem + ".coeffs.npy")
        try Interpolation.writeCSV(strip, layers: model.adapters.layers.map(\.key), to: stem + ".coeffs.csv")
        print("interpolate: \(steps) frames in \(space) space -> \(stem).png/.svg, \(stem).coeffs.npy \(strip.coefficients.shape), .coeffs.csv")
    }
}
