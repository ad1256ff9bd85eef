import Analysis
import ArgumentParser
import Foundation
import Formats
import Models
import Pipeline
import Tensor

struct Basis: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-layer study of a LoRA basis: key similarities, Gram matrices, element spectra, layers.csv.",
        discussion: """
            Reads only the adapter tensors, one layer at a time, so the authors' 835M-parameter float16 file
            needs no base model and little memory. Writes into --out:
              layers.csv             one row per layer (name, block, in, out, key similarity, norms, dominance)
              key_similarity.npy     [L, n, n] cosine similarity of the keys
              gram.npy               [L, n, n] G_ij = <A_i B_i, A_j B_j>_F
              element_spectra.npy    [L, n, r] singular values of every A_i B_i
              element_norms.npy      [L, n]    ||A_i B_i||_F
            and the figures (PNG + SVG): key_similarity (heatmap of --layer), key_similarity_per_layer (bars),
            element_norms (sorted norms of a spread of layers), element_spectra (of --layer).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The authors' adapter .safetensors, or a lorweb run folder.") var model: String
    @Option(help: "Output folder.") var out: String
    @Option(help: "The layer the heatmap and element spectra show (default: the first).") var layer: String?

    func execute() throws {
        try checkOutput(out, inputs: [model], folder: true)
        let stream = try AdapterStream(model: model, mixing: false)
        let focus = try layerIndex(layer, in: stream.layers, model: model)
        let progress = ProgressLine(label: "basis", unit: "layers")
        let layers = try BasisReport.analyse(stream) { done, total in progress.update(done, total) }
        progress.finish()
        try BasisReport.write(layers, to: out)
        let figures = try AnalysisFigures.basis(layers, focus: focus, to: out)
        print("\(layers.count) layers -> \(out)/layers.csv, key_similarity.npy, gram.npy, element_spectra.npy, element_norms.npy; "
              + "figures \(figures.joined(separator: ", ")) (.png, .svg)")
    }
}

/// The index of layer `name` (nil: the first), or a one-line error naming an existing layer.
func layerIndex(_ name: String?, in layers: [String], model: String) throws -> Int {
    guard let name else { return 0 }
    guard let i = layers.firstIndex(of: name) else { throw FormatError(model, "no adapted layer \(name) (e.g. \(layers[0]))") }
    return i
}

struct SVD: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "svd",
        abstract: "Singular values of the mixed LoRA of every layer for given coefficients (never forming Delta W).",
        discussion: """
            --coeffs uniform | onehot:K | FILE.npy ([n] for every layer or [layers, n]).
            Writes singular_values.npy [L, n*r] (descending per layer), layers.txt (layer order) and the figure
            singular_values.png/.svg (spectra of a spread of layers, log scale) into --out.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The authors' adapter .safetensors, or a lorweb run folder.") var model: String
    @Option(help: "uniform, onehot:K or an .npy of coefficients.") var coeffs = "uniform"
    @Option(help: "Output folder.") var out: String

    func execute() throws {
        try checkOutput(out, inputs: [model, coeffs], folder: true)
        let stream = try AdapterStream(model: model, mixing: false)
        let coefficients = try MixingCoefficients.parse(coeffs)
        let progress = ProgressLine(label: "svd", unit: "layers")
        let values = try BasisReport.mixedSpectra(stream, coefficients: coefficients) { progress.update($0, $1) }
        let layers = stream.layers
        progress.finish()
        try AtomicFile.createFolder(out)
        try NPY.write(values, to: out + "/singular_values.npy")
        try AtomicFile.write(Data((layers.joined(separator: "\n") + "\n").utf8), to: out + "/layers.txt")
        try AnalysisFigures.spectra(values, layers: layers, title: "Spectra of the mixed LoRAs (\(coeffs))").write(stem: out + "/singular_values")
        print("\(layers.count) layers -> \(out)/singular_values.npy \(values.shape), singular_values.png/.svg")
    }
}

struct KeyGraphCommand: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygraph",
        abstract: "Key-similarity graph of one layer (or the mean over all layers), rendered to SVG or PNG with its DOT beside it.",
        discussion: """
            Learned keys' cosines often sit within about +-0.3 of each other, so by default each key is joined to its 3 nearest
            keys (--edges top:3) rather than to the keys above a fixed cosine. The figure's label states the rule and the cosines
            of the edges drawn.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The authors' adapter .safetensors, or a lorweb run folder.") var model: String
    @Option(help: "A layer key (e.g. transformer_blocks.0.attn.to_q) or 'all' for the mean over layers.") var layer = "all"
    @Option(help: "Output .svg or .png (GRAPH.dot is written beside it).") var out: String
    @Option(help: edgeRuleHelp, transform: edgeRule) var edges: KeyGraph.EdgeRule = .top(3)
    @Option(help: "Optional coefficients .npy ([n], [layers, n] or [triplets, layers, n]) to size nodes by mean mass.") var coeffs: String?

    func execute() throws {
        try checkOutputs([out, (out as NSString).deletingPathExtension + ".dot"], inputs: InputFiles([model, coeffs]))
        let stream = try AdapterStream(model: model, mixing: false)
        let graph = try KeyGraph.of(stream, layer: layer, model: model, coefficients: coeffs, rule: edges)
        try graph.render(to: out)
        print("\(graph.n) nodes, \(graph.edgeSummary) -> \(out) (+ .dot)")
    }
}

/// Where an analysis gets its coefficients: fixed ones, or those of one analogy.
struct CoefficientSource: ParsableArguments {
    @Option(help: "uniform, onehot:K or an .npy ([n] or [layers, n]); instead of an analogy.") var coeffs: String?
    @Option(help: "Image a of the analogy.") var a: String?
    @Option(name: .customLong("a-prime"), help: "Image a' of the analogy.") var aPrime: String?
    @Option(help: "Image b of the analogy.") var b: String?
    @Option(help: "A Hugging Face CLIP folder (config.json + model.safetensors) to embed the images, for the authors' model (a run folder uses its own encoder).") var clip: String?
    @Option(help: "The ai-toolkit config.yaml of the authors' adapter (default: config.yaml beside it).") var config: String?

    /// Per-layer coefficient vectors for every layer of `stream`.
    func coefficients(_ stream: AdapterStream) throws -> (Int, LoRABasis) throws -> [Float] {
        if let coeffs {
            guard a == nil, aPrime == nil, b == nil else { throw ValidationError("give either --coeffs or --a/--a-prime/--b, not both") }
            let parsed = try MixingCoefficients.parse(coeffs)
            _ = try parsed.vector(layer: 0, of: stream.layers.count, n: stream.config.n)
            return { i, _ in try parsed.vector(layer: i, of: stream.layers.count, n: stream.config.n) }
        }
        guard let a, let aPrime, let b else { throw ValidationError("give --coeffs, or the analogy as --a A --a-prime A2 --b B") }
        let (encoderFolder, encoder) = try analogyEncoder(for: stream, clip: clip)
        let images = try AnalogyQuery.read(a: a, aPrime: aPrime, b: b)
        let query = AnalogyQuery.make(a: images.a, aPrime: images.aPrime, b: images.b, encoder: encoder, mode: stream.queryMode)
        guard query.shape[1] == stream.config.queryDim else {
            throw FormatError(encoderFolder, "its embeddings give a query of \(query.shape[1]) values; the adapters expect \(stream.config.queryDim)")
        }
        return { _, basis in withNoGrad { basis.coefficients(query) }.toArray() }
    }
}

struct ExportLoRACommand: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-lora",
        abstract: "Bake the mixed LoRA of one analogy (or of given coefficients) into an ordinary diffusers or PEFT LoRA.",
        discussion: """
            --out X.safetensors writes one diffusers LoRA file: keys transformer.<layer>.lora_A.weight [k, in] and
            .lora_B.weight [out, k], weight += lora_B @ lora_A, and the PEFT LoraConfig in its lora_adapter_metadata.
            Any other --out, or --peft DIR (beside or instead of --out), is a PEFT adapter folder that
            PeftModel.from_pretrained loads: adapter_model.safetensors (base_model.model.<layer> keys) and adapter_config.json. Both record the model, the analogy's images or --coeffs, and the mean coefficients.
            Exact at the full rank n*r; with --rank K < n*r, the best rank-K approximation, with each layer's relative
            Frobenius error written to OUT.errors.csv (a folder: OUT/errors.csv). The recorded rank is the tensors'.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The authors' adapter .safetensors, or a lorweb run folder.") var model: String
    @OptionGroup var source: CoefficientSource
    @Option(help: "Rank of the exported LoRA (default: exact, n*r; a larger K is exact too).") var rank: Int?
    @Option(help: "Stored precision: f32, f16 or bf16.") var dtype = "f32"
    @Option(help: "Output: a diffusers .safetensors file, or a PEFT adapter folder.") var out: String?
    @Option(help: "A PEFT adapter folder to write (as well as --out, or instead of it).") var peft: String?

    func execute() throws {
        if let rank, rank < 1 { throw ValidationError("--rank must be at least 1") }
        let dtypes: [String: SafetensorsDType] = ["f32": .f32, "f16": .f16, "bf16": .bf16]
        guard let storage = dtypes[dtype] else { throw ValidationError("--dtype must be f32, f16 or bf16") }
        // Each destination: its path, whether it is a PEFT folder, and where its truncation errors go.
        let destinations = [out.map { ($0, !$0.hasSuffix(".safetensors")) }, peft.map { ($0, true) }].compactMap { $0 }
            .map { path, folder in (path, folder, folder ? path + "/errors.csv" : (path as NSString).deletingPathExtension + ".errors.csv") }
        guard !destinations.isEmpty else { throw ValidationError("give --out FILE.safetensors or FOLDER, or --peft FOLDER") }
        if let out, let peft, absolutePath(out) == absolutePath(peft) { throw ValidationError("--out and --peft are the same path") }
        let inputs = [model, source.coeffs, source.a, source.aPrime, source.b, source.clip, source.config]
        for (path, folder, csvPath) in destinations {
            if folder {
                try checkOutputFolder(path, inputs: inputs)
            } else {
                try checkOutputs([path] + (rank == nil ? [] : [csvPath]), inputs: InputFiles(inputs))
            }
        }
        let stream = try AdapterStream(model: model, configPath: source.config, mixing: source.coeffs == nil)
        let coefficients = try source.coefficients(stream)
        let progress = ProgressLine(label: "export", unit: "layers")
        let exported = try stream.map(progress: { progress.update($0, $1) }) { i, basis in
            let alpha = try coefficients(i, basis)
            return (try ExportLoRA.layer(stream.layers[i], basis: basis, alpha: alpha, rank: rank), alpha)
        }
        progress.finish()
        let layers = exported.map(\.0), written = ExportLoRA.rank(of: layers)
        let baseModel = try stream.runFolder.flatMap { folder in
            try RunCheckpoint.config(in: folder).basePath.map { absolutePath(RunConfig.resolve($0, in: folder)) }
        }
        let metadata = try provenance(alphas: exported.map(\.1), rank: written)
        let errors = layers.map(\.relativeError)
        let truncated = written < stream.config.n * stream.config.r
        for (path, folder, csvPath) in destinations {
            if folder {
                try ExportLoRA.writePEFT(layers, to: path, dtype: storage, metadata: metadata, baseModel: baseModel)
            } else {
                try ExportLoRA.write(layers, to: path, dtype: storage, metadata: metadata, baseModel: baseModel)
            }
            if truncated {
                try CSV.write(header: ["layer", "relative_frobenius_error"], rows: layers.map { [.text($0.key), .double(Double($0.relativeError))] }, to: csvPath)
            }
        }
        let worst = errors.indices.max { errors[$0] < errors[$1] }!
        // A --rank at or above n*r adds no rank: the line says what the tensors hold.
        var label = truncated ? "rank \(written)" : "rank \(written), exact"
        if let rank, rank > written { label += "; --rank \(rank) exceeds n*r" }
        print(String(format: "%d layers -> %@ (%@, %@); relative error mean %.4g, max %.4g (%@)", layers.count,
                     destinations.map(\.0).joined(separator: " and "), label, dtype,
                     Double(errors.reduce(0, +) / Float(errors.count)), Double(errors[worst]), layers[worst].key))
    }

    /// Where the export came from, in the safetensors metadata: the model, the analogy's images
    /// (or the --coeffs given), and the coefficients averaged over layers.
    func provenance(alphas: [[Float]], rank: Int) throws -> [String: String] {
        var meta = ["lorweb": "export-lora", "lorweb_version": LorwebVersion.description, "rank": String(rank), "lorweb_model": absolutePath(model)]
        if let requested = self.rank { meta["lorweb_requested_rank"] = String(requested) }
        if let a = source.a, let aPrime = source.aPrime, let b = source.b {
            meta["lorweb_analogy"] = try ExportLoRA.json(["a": absolutePath(a), "a_prime": absolutePath(aPrime), "b": absolutePath(b)], path: out ?? peft ?? "export-lora")
        }
        if let coeffs = source.coeffs { meta["lorweb_coeffs"] = coeffs }
        let n = alphas.first?.count ?? 0
        let mean = (0..<n).map { j in Double(alphas.map { $0[j] }.reduce(0, +)) / Double(alphas.count) }
        meta["lorweb_coefficients"] = try ExportLoRA.json(["layers": alphas.count, "n": n, "mean_over_layers": mean], path: out ?? peft ?? "export-lora")
        return meta
    }
}
