// Reductions over axes. Every reduction is a sequence of single-axis passes over the view
// [outer, size, inner]; each output element is accumulated in a fixed order (sequentially along
// the axis, or in fixed 4096-element blocks for one long row), whatever the thread count.
// Contiguous rows accumulate in Float64: a long Float32 running sum drifts by hundreds of ulps.

extension Tensor {
    /// Sums over one axis with the layout [outer, size, inner] -> [outer, inner].
    static func sumAxis(_ x: Tensor, axis: Int) -> Tensor {
        let (outer, size, inner) = Shape.around(x.shape, axis: axis)
        var shape = x.shape
        shape.remove(at: axis)
        let out = Tensor(uninitialized: shape)
        let src = x.data, dst = out.data
        if inner == 1 && outer < Runtime.threads && size >= 8192 {
            // One or few long rows: blocked partial sums, then a sequential pass over the blocks.
            let block = 4096, nb = (size + block - 1) / block
            let partial = UnsafeMutablePointer<Double>.allocate(capacity: outer * nb)
            defer { partial.deallocate() }
            parallelFor(outer * nb, grain: 1) { r in
                for job in r {
                    let o = job / nb, b = job % nb
                    let p = src + o * size + b * block
                    var acc: Double = 0
                    for i in 0..<Swift.min(block, size - b * block) { acc += Double(p[i]) }
                    partial[job] = acc
                }
            }
            for o in 0..<outer {
                var acc: Double = 0
                for b in 0..<nb { acc += partial[o * nb + b] }
                dst[o] = Float(acc)
            }
            return out
        }
        if outer >= Runtime.threads || inner == 1 {
            parallelFor(outer, grain: Swift.max(1, 16384 / Swift.max(size * inner, 1))) { r in
                for o in r {
                    let s = src + o * size * inner, d = dst + o * inner
                    if inner == 1 {
                        var acc: Double = 0
                        for i in 0..<size { acc += Double(s[i]) }
                        d[0] = Float(acc)
                    } else {
                        if size == 0 { d.update(repeating: 0, count: inner); continue }
                        d.update(from: s, count: inner)
                        for k in 1..<size {
                            let row = s + k * inner
                            for j in 0..<inner { d[j] += row[j] }
                        }
                    }
                }
            }
        } else {
            // Few outer rows, wide inner: split the inner columns instead.
            for o in 0..<outer {
                let s = src + o * size * inner, d = dst + o * inner
                parallelFor(inner, grain: 1024) { r in
                    for j in r { d[j] = 0 }
                    for k in 0..<size {
                        let row = s + k * inner
                        for j in r { d[j] += row[j] }
                    }
                }
            }
        }
        return out
    }

    /// Normalises an axis list: resolves negatives, sorts descending, removes duplicates.
    func normalisedAxes(_ axes: [Int]?) -> [Int] {
        let all = axes ?? Array(0..<rank)
        return Array(Set(all.map { Shape.axis($0, rank: rank) })).sorted(by: >)
    }

    /// Shape after reducing `axes` (kept as size 1 when `keepDims`).
    func reducedShape(_ axes: [Int], keepDims: Bool) -> [Int] {
        var s = shape
        for a in axes.sorted(by: >) { if keepDims { s[a] = 1 } else { s.remove(at: a) } }
        return s
    }

    /// Sum over `axes` (all axes when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = normalisedAxes(axes)
        var y = self.detached()
        for a in ax { y = Tensor.sumAxis(y, axis: a) }
        let out = Tensor(shape: reducedShape(ax, keepDims: keepDims), storage: y.storage, offset: y.offset)
        let kept = reducedShape(ax, keepDims: true), full = shape
        return out.recorded([self]) { g in [g.reshaped(kept).expanded(to: full)] }
    }

    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = normalisedAxes(axes)
        let n = ax.reduce(1) { $0 * shape[$1] }
        return sum(axes: ax, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Variance over `axes` with `correction` subtracted from the count (0: population, 1: sample).
    public func variance(axes: [Int]? = nil, keepDims: Bool = false, correction: Int = 0) -> Tensor {
        let ax = normalisedAxes(axes)
        let n = ax.reduce(1) { $0 * shape[$1] }
        let centred = self - mean(axes: ax, keepDims: true)
        return centred.square().sum(axes: ax, keepDims: keepDims) * (1 / Float(Swift.max(n - correction, 1)))
    }

    /// Maximum along one axis, with the index of the first maximum. The gradient flows to that element.
    public func max(axis: Int, keepDims: Bool = false) -> (values: Tensor, indices: [Int]) {
        let a = Shape.axis(axis, rank: rank)
        let (outer, size, inner) = Shape.around(shape, axis: a)
        precondition(size > 0, "max over an empty axis of shape \(shape)")
        let values = Tensor(uninitialized: reducedShape([a], keepDims: keepDims))
        var indices = [Int](repeating: 0, count: outer * inner)
        let src = data, dst = values.data
        indices.withUnsafeMutableBufferPointer { idx in
            let idx = idx.baseAddress!
            parallelFor(outer, grain: Swift.max(1, 4096 / Swift.max(size * inner, 1))) { r in
                for o in r {
                    for j in 0..<inner {
                        let s = src + o * size * inner + j
                        var best = s[0], bi = 0
                        for k in 1..<size where s[k * inner] > best || (best.isNaN == false && s[k * inner].isNaN) {
                            best = s[k * inner]; bi = k
                            if best.isNaN { break }
                        }
                        dst[o * inner + j] = best
                        idx[o * inner + j] = bi
                    }
                }
            }
        }
        values.recorded([self]) { g in
            let dx = Tensor.zeros(self.shape)
            let pg = g.data, pd = dx.data
            for o in 0..<outer {
                for j in 0..<inner { pd[(o * size + indices[o * inner + j]) * inner + j] = pg[o * inner + j] }
            }
            return [dx]
        }
        return (values, indices)
    }
}
