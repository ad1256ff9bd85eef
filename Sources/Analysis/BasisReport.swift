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
    /// Analyses every layer of an adapter file (any release spelling); `progress(done, total)`
    /// is called as layers finish.
    public static func analyse(_ file: SafetensorsFile, scale: Float = 1, progress: (Int, Int) -> Void = { _, _ in }) throws -> [BasisLayer] {
        let source = ReleaseAdapterKeys(file)
        let layers = source.layerKeys
        guard !layers.isEmpty else { throw FormatError(file.path, "holds no LoRA-basis layers (no lora_A / att_lora_A tensors)") }
        var results = [BasisLayer?](repeating: nil, count: layers.count)
        var failure: Error?
        let lock = NSLock()
        var done = 0
        results.withUnsafeMutableBufferPointer { out in
            let slots = out.baseAddress!
            parallelFor(layers.count, grain: 1) { range in
                for i in range {
                    do {
                        let layer = try analyseLayer(layers[i], source: source, file: file, scale: scale)
                        slots[i] = layer
                    } catch {
                        lock.lock(); failure = failure ?? error; lock.unlock()
                    }
                    lock.lock(); done += 1; let d = done; lock.unlock()
                    progress(d, layers.count)
                }
            }
        }
        if let failure { throw failure }
        return results.map { $0! }
    }

    static func analyseLayer(_ key: String, source: ReleaseAdapterKeys, file: SafetensorsFile, scale: Float) throws -> BasisLayer {
        func load(_ suffix: String) throws -> Tensor {
            guard let k = source.sourceKey("transformer.\(key).\(suffix)") else { throw FormatError(file.path, "layer \(key) has no \(suffix)") }
            return try file.tensor(k, cache: false)
        }
        let a = try load("lora_A"), b = try load("lora_B"), keys = try load("lora_keys")
        guard a.rank == 3, b.rank == 3, a.shape[0] == b.shape[0], a.shape[2] == b.shape[1], keys.shape[0] == a.shape[0] else {
            throw FormatError(file.path, "layer \(key): lora_A \(a.shape), lora_B \(b.shape), lora_keys \(keys.shape) do not form a basis [n,in,r] / [n,r,out] / [n,kdim]")
        }
        let f = try LayerFactors(loraA: a, loraB: b, scale: scale)
        return BasisLayer(key: key, inFeatures: a.shape[1], outFeatures: b.shape[2],
                          keySimilarity: keySimilarity(keys).toArray(), gram: f.gram().toArray(), spectra: try f.elementSpectra().toArray())
    }

    /// Writes layers.csv, key_similarity.npy [L,n,n], gram.npy [L,n,n], element_spectra.npy [L,n,r]
    /// and element_norms.npy [L,n] into `folder`.
    public static func write(_ layers: [BasisLayer], to folder: String) throws {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw FormatError(folder, "cannot create the output folder: \(error.localizedDescription)")
        }
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
            // Effective number of basis elements in use: exp(entropy) of the norm distribution.
            var entropy = 0.0
            for v in norm where v > 0 {
                let p = Double(v) / Double(total)
                entropy -= p * log(p)
            }
            return [.int(i), .text(layer.key), .text(layer.block), .int(layer.inFeatures), .int(layer.outFeatures),
                    .double(Double(offDiagonal.reduce(0, +)) / Double(max(offDiagonal.count, 1))),
                    .double(Double(offDiagonal.max() ?? 0)), .double(Double(total) / Double(n)), .int(dominant),
                    .double(Double(norm[dominant] / max(total, 1e-30))), .double(exp(entropy))]
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
    /// [n] for every layer, or [L, n] layer by layer.
    case array(Tensor)

    /// Parses `uniform`, `onehot:K` or a path to an .npy file.
    public static func parse(_ text: String) throws -> MixingCoefficients {
        if text == "uniform" { return .uniform }
        if text.hasPrefix("onehot:") {
            guard let k = Int(text.dropFirst("onehot:".count)), k >= 0 else { throw FormatError(text, "expected onehot:K with K a basis index") }
            return .onehot(k)
        }
        return .array(try NPY.read(text))
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
        case .array(let t):
            if t.shape == [n] { return t.toArray() }
            guard t.shape == [layers, n] else {
                throw FormatError("coefficients", "shape \(t.shape) is neither [n] = [\(n)] nor [layers, n] = [\(layers), \(n)]")
            }
            return Array(t.toArray()[(layer * n)..<((layer + 1) * n)])
        }
    }
}

extension BasisReport {
    /// Singular values [L, n r] of the mixed LoRA of every layer, by the thin-factor method.
    public static func mixedSpectra(_ file: SafetensorsFile, coefficients: MixingCoefficients, scale: Float = 1,
                                    progress: (Int, Int) -> Void = { _, _ in }) throws -> (layers: [String], values: Tensor) {
        let source = ReleaseAdapterKeys(file)
        let layers = source.layerKeys
        guard !layers.isEmpty else { throw FormatError(file.path, "holds no LoRA-basis layers (no lora_A / att_lora_A tensors)") }
        let (n, r, _, _) = try source.shapes()
        let k = n * r
        _ = try coefficients.vector(layer: 0, of: layers.count, n: n)   // a bad argument fails before any work
        let values = Tensor.zeros([layers.count, k])
        var failure: Error?
        let lock = NSLock()
        var done = 0
        parallelFor(layers.count, grain: 1) { range in
            for i in range {
                do {
                    let a = try file.tensor(source.sourceKey("transformer.\(layers[i]).lora_A")!, cache: false)
                    let b = try file.tensor(source.sourceKey("transformer.\(layers[i]).lora_B")!, cache: false)
                    let alpha = try coefficients.vector(layer: i, of: layers.count, n: n)
                    let s = try LayerFactors(loraA: a, loraB: b, scale: scale).singularValues(alpha)
                    (values.data + i * k).update(from: s.data, count: min(k, s.count))
                } catch {
                    lock.lock(); failure = failure ?? error; lock.unlock()
                }
                lock.lock(); done += 1; let d = done; lock.unlock()
                progress(d, layers.count)
            }
        }
        if let failure { throw failure }
        return (layers, values)
    }
}
