import Figures
import Foundation
import Formats
import Models
import Pipeline
import Tensor

// Walking from one analogy to another on the same b. Either the per-layer coefficients are
// interpolated linearly (a straight line in LoRA space, since Delta W is linear in them), or
// the query is, and every layer re-applies its keys and softmax (the path the model itself
// would take for analogies "between" the two). Each frame is generated from the same noise;
// its conditioning grid cross-fades the two (a, a') pairs, so the first and last frames are
// exactly the edits of the two analogies.

public enum Interpolation {
    public enum Space: String, CaseIterable {
        case coeffs, query
    }

    /// t_k = k / (K - 1), k = 0..<K.
    public static func times(_ steps: Int) -> [Float] {
        precondition(steps >= 2, "interpolation needs at least 2 steps")
        return (0..<steps).map { Float($0) / Float(steps - 1) }
    }

    /// (1 - t_k) from + t_k to for every t_k: [K] + from.shape.
    public static func linear(_ from: Tensor, _ to: Tensor, steps: Int) -> Tensor {
        precondition(from.shape == to.shape, "interpolation endpoints \(from.shape) and \(to.shape) differ")
        let (f, g) = (from.toArray(), to.toArray())
        let data = times(steps).flatMap { t in zip(f, g).map { (1 - t) * $0 + t * $1 } }
        return Tensor(shape: [steps] + from.shape, data: data)
    }

    /// Pixel-wise (1 - t) x + t y of two pictures of one size.
    static func crossfade(_ x: Image, _ y: Image, _ t: Float) -> Image {
        let (x, y) = (x.rgb(), y.width == x.width && y.height == x.height ? y.rgb() : y.rgb().resized(width: x.width, height: x.height))
        return Image(width: x.width, height: x.height, channels: 3,
                     pixels: zip(x.pixels, y.pixels).map { UInt8(((1 - t) * Float($0) + t * Float($1)).rounded()) })
    }

    public struct Strip {
        public let times: [Float]
        /// [K, layers, n]
        public let coefficients: Tensor
        public let frames: [Image]
    }

    /// The coefficient path [K, layers, n] between the analogies (a, a') -> (c, c') on b.
    public static func path(_ model: LoRWeBModel, from: (Image, Image), to: (Image, Image), b: Image, steps: Int, space: Space) -> Tensor {
        let queries = model.query(grids: [from, to].map { AnalogyGrid.conditioning(a: $0.0, aPrime: $0.1, b: b) })   // [2, qdim]
        switch space {
        case .coeffs:
            let c = model.coefficients(queries)                             // [2, L, n]
            let (l, n) = (c.shape[1], c.shape[2])
            return linear(c.sliced(axis: 0, 0..<1).reshaped([l, n]), c.sliced(axis: 0, 1..<2).reshaped([l, n]), steps: steps)
        case .query:
            let q = linear(queries.sliced(axis: 0, 0..<1).reshaped([-1]), queries.sliced(axis: 0, 1..<2).reshaped([-1]), steps: steps)
            return model.coefficients(q)
        }
    }

    /// Generates the K frames (same noise for all) with the path's coefficients.
    public static func run(_ model: LoRWeBModel, from: (Image, Image), to: (Image, Image), b: Image, steps: Int, space: Space,
                           sampleSteps: Int, seed: UInt64, guidance: Float = 1, prompt: String = "",
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> Strip {
        // A lower bound from the sizes alone, before the path is allocated: per frame its
        // coefficients (path and strip), its query, the frame itself and its filmstrip cell.
        let perFrame = 8 * Double(model.adapters.layers.count * model.config.adapter.n) + 4 * Double(model.config.adapter.queryDim) + 3 * Double(b.width * b.height) + 4 * 96 * 96
        if let problem = MemoryBudget.excess(Double(steps) * perFrame, for: "\(steps) interpolation frames") {
            throw ValidationFailure(problem)
        }
        let coefficients = path(model, from: from, to: to, b: b, steps: steps, space: space)
        let (l, n) = (coefficients.shape[1], coefficients.shape[2])
        var frames: [Image] = []
        for (k, t) in times(steps).enumerated() {
            let a = crossfade(from.0, to.0, t), aPrime = crossfade(from.1, to.1, t)
            let made = try model.edit([(a, aPrime, b)], prompts: [prompt], steps: sampleSteps, seed: seed, guidance: guidance,
                                      coefficients: coefficients.sliced(axis: 0, k..<(k + 1)).reshaped([1, l, n]))
            frames.append(made[0].bPrime)
            progress(k + 1, steps)
        }
        return Strip(times: times(steps), coefficients: coefficients, frames: frames)
    }

    /// The labelled filmstrip: the inputs on top, the frames below.
    public static func figure(_ strip: Strip, from: (Image, Image), to: (Image, Image), b: Image, space: Space, cellSize: Int = 96) throws -> Figure {
        let inputs: [Image?] = [from.0, from.1, to.0, to.1, b]
        let grid = ImageGrid([inputs, strip.frames.map { $0 }],
                             captions: [["a", "a'", "c", "c'", "b"], strip.times.map { String(format: "t = %.2f", $0) }],
                             rowLabels: ["inputs", "b' (\(space == .coeffs ? "coefficients" : "query"))"], cellSize: cellSize)
        return try Figure.images(grid, title: "a : a' -> c : c' applied to b, interpolated in \(space == .coeffs ? "coefficient" : "query") space")
    }

    /// The trajectories as CSV rows: frame, t, layer, then the n coefficients.
    public static func writeCSV(_ strip: Strip, layers: [String], to path: String) throws {
        let (l, n) = (strip.coefficients.shape[1], strip.coefficients.shape[2]), c = strip.coefficients.toArray()
        var rows: [[CSV.Field]] = []
        for (k, t) in strip.times.enumerated() { for i in 0..<l {
            rows.append([.int(k), .double(Double(t)), .text(layers[i])] + (0..<n).map { .float(c[(k * l + i) * n + $0]) })
        } }
        try CSV.write(header: ["frame", "t", "layer"] + (0..<n).map { "c\($0)" }, rows: rows, to: path)
    }
}
