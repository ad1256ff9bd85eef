import Foundation
import Formats
import Models
import Pipeline
import Tensor
import SmallWorld

// Coefficient embeddings: for each triplet, the per-layer mixing coefficients the model gives
// it, [triplets, layers, n]. Triplets come from a CSV list or a small world's manifest (which
// also knows every triplet's task, family and split); the index CSV written beside the NPY
// carries those labels for the PCA scatter plots and the notebooks.

public struct LabelledTriplet: Equatable {
    public var triplet: TripletList.Triplet
    public var split: String?
}

public enum CoefficientEmbedding {
    /// The triplets of a CSV list, or of a small-world folder (only `split` when given). With
    /// `limit`, at most that many, taken round-robin over tasks so that every task is represented.
    public static func triplets(_ path: String, split: String? = nil, limit: Int? = nil) throws -> [LabelledTriplet] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw FormatError(path, "no such file or folder") }
        var all: [LabelledTriplet]
        if isFolder.boolValue {
            let world = try SmallWorldDataset(folder: path)
            if let split, Split(rawValue: split) == nil {
                throw FormatError(path, "no split \(split) (\(Split.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            all = world.manifest.samples.filter { split == nil || $0.split.rawValue == split }.map { s in
                LabelledTriplet(triplet: .init(id: s.name, a: world.path(s.a), aPrime: world.path(s.aPrime), b: world.path(s.b),
                                               bPrime: world.path(s.bPrime), task: s.task, family: s.families.joined(separator: "+")),
                                split: s.split.rawValue)
            }
        } else {
            guard split == nil else { throw FormatError(path, "--split applies to a small-world folder, not a CSV list") }
            all = try TripletList.read(path).triplets.map { LabelledTriplet(triplet: $0, split: nil) }
        }
        guard !all.isEmpty else { throw FormatError(path, "holds no triplets" + (split.map { " in split \($0)" } ?? "")) }
        guard let limit, limit < all.count else { return all }
        var queues: [String: [LabelledTriplet]] = [:], order: [String] = []
        for t in all {
            let task = t.triplet.task ?? t.triplet.id
            if queues[task] == nil { order.append(task) }
            queues[task, default: []].append(t)
        }
        var picked: [LabelledTriplet] = [], round = 0
        while picked.count < limit {
            for task in order where round < queues[task]!.count && picked.count < limit { picked.append(queues[task]![round]) }
            round += 1
        }
        return picked
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
    /// split, image paths) and the layer order `<stem>.layers.txt`.
    public static func write(_ coefficients: Tensor, triplets: [LabelledTriplet], layers: [String], to path: String) throws {
        let stem = (path as NSString).deletingPathExtension
        try NPY.write(coefficients, to: path)
        let rows: [[CSV.Field]] = triplets.enumerated().map { i, l in
            let t = l.triplet
            return [.int(i), .text(t.id), .text(t.task ?? ""), .text(t.family ?? ""), .text(l.split ?? ""), .text(t.a), .text(t.aPrime), .text(t.b)]
        }
        try CSV.write(header: ["row", "id", "task", "family", "split", "a", "a_prime", "b"], rows: rows, to: stem + ".csv")
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
