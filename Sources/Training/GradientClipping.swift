import Tensor

/// Gradient clipping by global norm, with PyTorch's `clip_grad_norm_` semantics.
public enum GradientClipping {
    /// The 2-norm of all gradients together, accumulated in Float64 over fixed blocks in a fixed
    /// order, so it is the same for every `Runtime.threads`. Nil gradients count as zero.
    public static func globalNorm(_ gradients: [Tensor?]) -> Double {
        var total = 0.0
        for g in gradients { if let g { total += sumOfSquares(g) } }
        return total.squareRoot()
    }

    /// Scales every gradient by max_norm / (norm + 1e-6) when that is below 1 and returns the
    /// norm before clipping. Gradients are never written in place, so clipped ones are replaced
    /// by scaled copies. A non-finite norm is returned without touching the gradients (the
    /// caller decides to stop; PyTorch would spread the NaN into every gradient).
    @discardableResult
    public static func clip(_ parameters: [Tensor], maxNorm: Double) -> Double {
        let norm = globalNorm(parameters.map(\.grad))
        guard norm.isFinite else { return norm }
        let scale = maxNorm / (norm + 1e-6)
        guard scale < 1 else { return norm }
        let s = Float(scale)
        for p in parameters {
            guard let g = p.grad else { continue }
            let scaled = Tensor(uninitialized: g.shape)
            let src = g.data, dst = scaled.data
            parallelFor(g.count, grain: 1 << 15) { r in
                for i in r { dst[i] = src[i] * s }
            }
            p.grad = scaled
        }
        return norm
    }

    /// Block size of the norm's partial sums: fixed, so the summation order never depends on
    /// how many threads share the blocks.
    static let block = 1 << 14

    private static func sumOfSquares(_ g: Tensor) -> Double {
        let blocks = (g.count + block - 1) / block
        var partial = [Double](repeating: 0, count: blocks)
        let src = g.data, n = g.count
        partial.withUnsafeMutableBufferPointer { out in
            let dst = out.baseAddress!
            parallelFor(blocks, grain: 1) { r in
                for b in r {
                    var s = 0.0
                    for i in (b * block)..<min(n, (b + 1) * block) { s += Double(src[i]) * Double(src[i]) }
                    dst[b] = s
                }
            }
        }
        return partial.reduce(0, +)
    }
}
