import Foundation
import Formats
import Models
import Tensor

// `lorweb basis`: what a learned basis looks like, layer by layer, from the adapter file alone.
// Layers stream through one at a time (a float16 checkpoint of 835M parameters would take 3.3 GB
// as float32 all at once), two or more in parallel, each with its own LAPACK work.

public struct BasisLayer {
    public let key: String
    public let inFeatures: Int, outFeatures: Int
    public let keySimilarity: [Float]    // [n, n]
    public let gram: [Float]             // [n, n]
    public let spectra: [Float]          // [n, r]

    /// Block label (`double 3`, `single 12`) for tables and figures.
    public var block: String {
        let parts = key.split(separator: ".")
        return (parts.first == "single_transformer_blocks" ? "single " : "double ") + (parts.count > 1 ? String(parts[1]) : "?")
    }
}

public enum BasisReport {
    /// Analyses every layer of an adapter file; `progress(done, total)` as layers finish.
    public static func analyse(_ stream: AdapterStream, progress: (Int, Int) -> Void = { _, _ in }) throws -> [BasisLayer] {
        try stream.map(progress: progress) { i, basis in
            let f = try LayerFactors(basis)
            return BasisLayer(key: stream.layers[i], inFeatures: basis.loraA.shape[1], outFeatures: basis.loraB.shape[2],
                              keySimilarity: keySimilarity(basis.loraKeys).toArray(), gram: f.gram().toArray(),
                              spectra: try f.elementSpectra().toArray())
        }
    }

    /// Writes layers.csv, key_similarity.npy [L,n,n], gram.npy [L,n,n], element_spectra.npy [L,n,r]
    /// and element_norms.npy [L,n] into `folder`.
    public static func write(_ layers: [BasisLayer], to folder: String) throws {
        try AtomicFile.createFolder(folder)
        let l = layers.count, n = Int(Double(layers[0].gram.count).squareRoot()), r = layers[0].spectra.count / n
        try NPY.write(Tensor(shape: [l, n, n], data: layers.flatMap(\.keySimilarity)), to: folder + "/key_similarity.npy")
        try NPY.write(Tensor(shape: [l, n, n], data: layers.flatMap(\.gram)), to: folder + "/gram.npy")
        try NPY.write(Tensor(shape: [l, n, r], data: layers.flatMap(\.spectra)), to: folder + "/element_spectra.npy")
        let norms = layers.map { layer in (0..<n).map { layer.gram[$0 * n + $0].squareRoot() } }
        try NPY.write(Tensor(shape: [l, n], data: norms.flatMap { $0 }), to: folder + "/element_norms.npy")

        let rows: [[CSV.Field]] = zip(layers, norms).enumerated().map { i, pair in
            let (layer, norm) = pair
            let offDiagonal = (0..<n).flatMap { a in (0..<n).filter { $0 != a }.map { layer.keySimilarity[a * n + $0] } }
            let dominant = norm.indices.max { norm[$0] < norm[$1] }!
            let total = norm.reduce(0, +)
            return [.int(i), .text(layer.key), .text(layer.block), .int(layer.inFeatures), .int(layer.outFeatures),
                    .double(Double(offDiagonal.reduce(0, +)) / Double(max(offDiagonal.count, 1))),
                    .double(Double(offDiagonal.max() ?? 0)), .double(Double(total) / Double(n)), .int(dominant),
                    .double(Double(norm[dominant] / max(total, 1e-30))),
                    // Effective number of basis elements in use: exp(entropy) of the norm distribution.
                    .double(exp(entropy(ofShares: norm)))]
        }
        try CSV.write(header: ["index", "name", "block", "in", "out", "key_similarity_mean", "key_similarity_max",
                               "element_norm_mean", "dominant_element", "dominant_share", "effective_elements"],
                      rows: rows, to: folder + "/layers.csv")
    }
}

/// Coefficients to mix a basis with, per layer.
public enum MixingCoefficients {
    case uniform
    case onehot(Int)
    /// [n] for every layer, or [L, n] layer by layer; `source` (the file) names them in errors.
    case array(Tensor, source: String = "coefficients")

    /// Parses `uniform`, `onehot:K` or a path to an .npy file.
    public static func parse(_ text: String) throws -> MixingCoefficients {
        if text == "uniform" { return .uniform }
        if text.hasPrefix("onehot:") {
            guard let k = Int(text.dropFirst("onehot:".count)), k >= 0 else { throw FormatError(text, "expected onehot:K with K a basis index") }
            return .onehot(k)
        }
        let values = try NPY.read(text)
        if let problem = values.nonFiniteProblem(what: "the coefficients") { throw FormatError(text, problem) }
        return .array(values, source: text)
    }

    /// The coefficient vector of layer `layer` of `layers`, for a basis of `n`.
    public func vector(layer: Int, of layers: Int, n: Int) throws -> [Float] {
        switch self {
        case .uniform: return [Float](repeating: 1 / Float(n), count: n)
        case .onehot(let k):
            guard k < n else { throw FormatError("onehot:\(k)", "the basis has only \(n) elements (0..<\(n))") }
            var v = [Float](repeating: 0, count: n)
            v[k] = 1
            return v
        case .array(let t, let source):
            if t.shape == [n] { return t.toArray() }
            guard t.shape == [layers, n] else {
                throw FormatError(source, "the coefficients have shape \(t.shape) is neither [n] = [\(n)] nor [layers, n] = [\(layers), \(n)]")
            }
            return Array(t.toArray()[(layer * n)..<((layer + 1) * n)])
        }
    }
}

extension BasisReport {
    /// Singular values [L, n r] of the mixed LoRA of every layer, by the thin-factor method.
    public static func mixedSpectra(_ stream: AdapterStream, coefficients: MixingCoefficients,
                                    progress: (Int, Int) -> Void = { _, _ in }) throws -> Tensor {
        let (n, k, count) = (stream.config.n, stream.config.n * stream.config.r, stream.layers.count)
        _ = try coefficients.vector(layer: 0, of: count, n: n)   // a bad argument fails before any work
        let rows = try stream.map(progress: progress) { i, basis in
            try LayerFactors(basis).singularValues(try coefficients.vector(layer: i, of: count, n: n)).toArray()
        }
        return Tensor(shape: [count, k], data: rows.flatMap { $0 })
    }
}
