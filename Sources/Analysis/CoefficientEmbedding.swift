import Foundation
import Formats
import Models
import Pipeline
import Tensor
import SmallWorld

// Coefficient embeddings: for each triplet, the per-layer mixing coefficients the model gives
// it, [triplets, layers, n]. Triplets come from a CSV list or a small world's manifest
// (`LabelledTriplets`, which also knows every triplet's task, family and split); the index CSV
// written beside the NPY carries those labels for the PCA scatter plots and the notebooks.

public enum CoefficientEmbedding {
    /// The triplets of a CSV list or a small-world folder (only `split` when given; see
    /// `LabelledTriplets.read`); with `limit`, at most that many, round-robin over tasks.
    public static func triplets(_ path: String, split: String? = nil, limit: Int? = nil) throws -> [LabelledTriplet] {
        LabelledTriplets.roundRobin(try LabelledTriplets.read(path, split: split), limit: limit)
    }

    /// Queries [T, qdim] of the triplets, as inference builds them (conditioning grid, quadrant
    /// crops, frozen encoder; embeddings cached per picture by the encoder).
    public static func queries(_ triplets: [LabelledTriplet], encoder: ImageEncoder, mode: QueryMode,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> Tensor {
        var rows: [Tensor] = []
        for (i, t) in triplets.enumerated() {
            let images = try AnalogyQuery.read(a: t.triplet.a, aPrime: t.triplet.aPrime, b: t.triplet.b)
            rows.append(AnalogyQuery.make(a: images.a, aPrime: images.aPrime, b: images.b, encoder: encoder, mode: mode))
            progress(i + 1, triplets.count)
        }
        return Tensor.concat(rows, axis: 0)
    }

    /// Coefficients [T, L, n] of queries [T, qdim], streaming the layers of an adapter file.
    public static func coefficients(_ stream: AdapterStream, queries: Tensor, progress: (Int, Int) -> Void = { _, _ in }) throws -> Tensor {
        let (t, n, l) = (queries.shape[0], stream.config.n, stream.layers.count)
        guard queries.shape[1] == stream.config.queryDim else {
            throw ValidationFailure("the encoder gives a \(queries.shape[1])-d query; the adapters expect \(stream.config.queryDim)")
        }
        let perLayer = try stream.map(progress: progress) { _, basis in withNoGrad { basis.coefficients(queries) }.toArray() }   // [L][T n]
        var out = [Float](repeating: 0, count: t * l * n)
        for (layer, values) in perLayer.enumerated() {
            for row in 0..<t { for j in 0..<n { out[(row * l + layer) * n + j] = values[row * n + j] } }
        }
        return Tensor(shape: [t, l, n], data: out)
    }

    /// Writes the coefficients to `path` (.npy), the index `<stem>.csv` (row, id, task, family,
    /// kind, split, image paths) and the layer order `<stem>.layers.txt`.
    public static func write(_ coefficients: Tensor, triplets: [LabelledTriplet], layers: [String], to path: String) throws {
        let stem = (path as NSString).deletingPathExtension
        try NPY.write(coefficients, to: path)
        let rows: [[CSV.Field]] = triplets.enumerated().map { i, l in
            let t = l.triplet
            return [.int(i), .text(t.id), .text(t.task ?? ""), .text(t.family ?? ""), .text(l.kind ?? ""), .text(l.split ?? ""),
                    .text(t.a), .text(t.aPrime), .text(t.b)]
        }
        try CSV.write(header: ["row", "id", "task", "family", "kind", "split", "a", "a_prime", "b"], rows: rows, to: stem + ".csv")
        try AtomicFile.write(Data((layers.joined(separator: "\n") + "\n").utf8), to: stem + ".layers.txt")
    }

    /// The labels of a coefficient file's index (`<stem>.csv`), by column name; nil when there is
    /// no index.
    public static func index(of path: String) throws -> [String: [String]]? {
        let csv = (path as NSString).deletingPathExtension + ".csv"
        guard FileManager.default.fileExists(atPath: csv) else { return nil }
        let (header, rows) = try CSV.read(csv, what: "the index of a coefficient file")
        var columns: [String: [String]] = [:]
        for (j, name) in header.enumerated() { columns[name] = rows.map { j < $0.count ? $0[j] : "" } }
        return columns
    }
}
