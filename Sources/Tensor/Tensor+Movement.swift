// Shape and movement ops. Reshape is a view of the same storage; everything else copies into a
// new contiguous tensor with block copies along the innermost contiguous run, and its gradient
// is the mirrored movement (slice <-> pad, concat <-> split, permute <-> inverse permute).

extension Tensor {
    /// Same data, new shape (one axis may be -1). A view: no copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) for \(count) elements")
            s[i] = count / known
        }
        precondition(Shape.count(s) == count, "reshape: \(shape) (\(count) elements) cannot become \(newShape)")
        if s == shape { return self }
        let oldShape = shape
        return Tensor(shape: s, storage: storage, offset: offset).recorded([self]) { g in [g.reshaped(oldShape)] }
    }

    /// Reorders axes: result axis i is input axis `dims[i]`.
    public func permuted(_ dims: [Int]) -> Tensor {
        precondition(dims.sorted() == Array(0..<rank), "permute: \(dims) is not a permutation of the axes of \(shape)")
        if dims == Array(0..<rank) { return self }
        let inStrides = Shape.strides(shape)
        let out = Tensor.stridedCopy(self, shape: dims.map { shape[$0] }, strides: dims.map { inStrides[$0] })
        var inverse = [Int](repeating: 0, count: rank)
        for (i, d) in dims.enumerated() { inverse[d] = i }
        return out.recorded([self]) { g in [g.permuted(inverse)] }
    }

    /// A contiguous tensor of `outShape` whose element at index i reads `src` at sum(i_d * strides[d]):
    /// a permutation (strides reordered) or a broadcast (stride 0 on repeated axes). The two
    /// innermost axes are walked by pointer steps (an index is decoded once per run of them), and
    /// rows of the innermost axis are block copies when it is contiguous and long enough to pay
    /// for a memmove call (a basis permute [n, in, r] -> [in, n, r] copies rows of r = 4).
    static func stridedCopy(_ src: Tensor, shape outShape: [Int], strides: [Int]) -> Tensor {
        let out = Tensor(uninitialized: outShape)
        let rank = outShape.count
        guard rank > 0 else {
            out.data[0] = src.data[0]
            return out
        }
        let inner = outShape[rank - 1], innerStride = strides[rank - 1]
        let mid = rank >= 2 ? outShape[rank - 2] : 1, midStride = rank >= 2 ? strides[rank - 2] : 0
        let plane = Swift.max(mid * inner, 1), planes = out.count / plane
        let sp = src.data, dst = out.data
        parallelFor(planes, grain: Swift.max(1, 8192 / plane)) { r in
            for p in r {
                var rem = p, o = 0
                for d in stride(from: rank - 3, through: 0, by: -1) {
                    o += (rem % outShape[d]) * strides[d]
                    rem /= outShape[d]
                }
                for m in 0..<mid {
                    let s = sp + o + m * midStride, dp = dst + p * plane + m * inner
                    if innerStride == 1 && inner >= 16 { dp.update(from: s, count: inner) } else {
                        for j in 0..<inner { dp[j] = s[j * innerStride] }
                    }
                }
            }
        }
        return out
    }

    /// Swaps two axes.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var dims = Array(0..<rank)
        dims.swapAt(Shape.axis(a, rank: rank), Shape.axis(b, rank: rank))
        return permuted(dims)
    }

    /// Elements `range` along `axis`.
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[a], "slice \(range) out of bounds for axis \(a) of \(shape)")
        let (outer, size, inner) = Shape.around(shape, axis: a)
        var outShape = shape
        outShape[a] = range.count
        let out = Tensor(uninitialized: outShape)
        let block = range.count * inner, src = data, dst = out.data
        parallelFor(outer, grain: Swift.max(1, 16384 / Swift.max(block, 1))) { r in
            for o in r { (dst + o * block).update(from: src + (o * size + range.lowerBound) * inner, count: block) }
        }
        let inShape = shape
        return out.recorded([self]) { g in
            [g.padded(axis: a, before: range.lowerBound, after: inShape[a] - range.upperBound)]
        }
    }

    /// Pads `axis` with `before`/`after` copies of `value`.
    public func padded(axis: Int, before: Int, after: Int, value: Float = 0) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        precondition(before >= 0 && after >= 0, "pad: negative padding \(before), \(after)")
        let (outer, size, inner) = Shape.around(shape, axis: a)
        var outShape = shape
        outShape[a] = size + before + after
        let out = Tensor.full(outShape, value)
        let newSize = outShape[a], src = data, dst = out.data
        parallelFor(outer, grain: Swift.max(1, 16384 / Swift.max(size * inner, 1))) { r in
            for o in r { (dst + (o * newSize + before) * inner).update(from: src + o * size * inner, count: size * inner) }
        }
        return out.recorded([self]) { g in [g.sliced(axis: a, before..<(before + size))] }
    }

    /// Joins tensors along `axis`; all other axes must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat of no tensors")
        let first = parts[0], a = Shape.axis(axis, rank: first.rank)
        for p in parts {
            var s1 = p.shape, s0 = first.shape
            precondition(s1.count == s0.count, "concat: shapes \(s0) and \(p.shape) differ in rank")
            s1[a] = 0; s0[a] = 0
            precondition(s1 == s0, "concat along axis \(a): shapes \(first.shape) and \(p.shape) differ off that axis")
        }
        let sizes = parts.map { $0.shape[a] }
        var outShape = first.shape
        outShape[a] = sizes.reduce(0, +)
        let out = Tensor(uninitialized: outShape)
        let (outer, total, inner) = Shape.around(outShape, axis: a)
        var start = 0
        for p in parts {
            let block = p.shape[a] * inner, src = p.data, dst = out.data, st = start
            parallelFor(outer, grain: Swift.max(1, 16384 / Swift.max(block, 1))) { r in
                for o in r { (dst + (o * total + st) * inner).update(from: src + o * block, count: block) }
            }
            start += p.shape[a]
        }
        // Sizes and flags only: the parts themselves need not outlive the forward.
        let needs = parts.map(\.requiresGrad)
        return out.recorded(parts) { g in
            var offset = 0
            return zip(sizes, needs).map { size, need in
                defer { offset += size }
                return need ? g.sliced(axis: a, offset..<(offset + size)) : nil
            }
        }
    }

    /// Splits along `axis` into pieces of the given sizes.
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        let a = Shape.axis(axis, rank: rank)
        precondition(sizes.reduce(0, +) == shape[a], "split: sizes \(sizes) do not add up to axis \(a) of \(shape)")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return sliced(axis: a, start..<(start + n))
        }
    }

    /// Splits along `axis` into `n` equal pieces.
    public func chunked(_ n: Int, axis: Int) -> [Tensor] {
        let a = Shape.axis(axis, rank: rank)
        precondition(n > 0 && shape[a] % n == 0, "chunk: axis \(a) of \(shape) does not split into \(n) equal parts")
        return split([Int](repeating: shape[a] / n, count: n), axis: a)
    }

    /// Rows of a table picked by index along axis 0 (embedding lookup). Result shape
    /// `indices.count` followed by the row shape; the gradient scatter-adds in index order.
    public func indexSelect(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "indexSelect on a scalar")
        let rowLen = count / Swift.max(shape[0], 1), rows = shape[0]
        for i in indices { precondition(i >= 0 && i < rows, "index \(i) out of range for \(rows) rows") }
        let out = Tensor(uninitialized: [indices.count] + shape.dropFirst())
        let src = data, dst = out.data
        for (k, i) in indices.enumerated() { (dst + k * rowLen).update(from: src + i * rowLen, count: rowLen) }
        let inShape = shape
        return out.recorded([self]) { g in
            let dx = Tensor.zeros(inShape)
            let pg = g.data, pd = dx.data
            for (k, i) in indices.enumerated() {
                let d = pd + i * rowLen, s = pg + k * rowLen
                for j in 0..<rowLen { d[j] += s[j] }
            }
            return [dx]
        }
    }

    /// Tiles the tensor `counts[i]` times along each axis (like torch's `repeat`).
    public func repeated(_ counts: [Int]) -> Tensor {
        precondition(counts.count == rank && counts.allSatisfy { $0 >= 1 }, "repeat: counts \(counts) do not fit shape \(shape)")
        var y = self
        for (a, k) in counts.enumerated() where k > 1 {
            // [outer, size, inner] -> [outer, k, size, inner] by broadcasting a new axis, then merge.
            let (outer, size, inner) = Shape.around(y.shape, axis: a)
            var outShape = y.shape
            outShape[a] *= k
            y = y.reshaped([outer, 1, size * inner]).expanded(to: [outer, k, size * inner]).reshaped(outShape)
        }
        return y
    }

    /// Splits images [B, C, H, W] into non-overlapping p x p patches: [B, (H/p)(W/p), C*p*p],
    /// patches in row-major order, each flattened as (c, i, j) like a conv weight [D, C, p, p].
    /// A stride-p convolution is then `patchified(p).linear(weight.reshaped([D, C*p*p]), bias)`.
    public func patchified(_ p: Int) -> Tensor {
        precondition(rank == 4 && shape[2] % p == 0 && shape[3] % p == 0,
                     "patchify: shape \(shape) is not [B, C, H, W] with H, W divisible by \(p)")
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        // [B, C, H/p, p, W/p, p] -> [B, H/p, W/p, C, p, p]
        return reshaped([b, c, h / p, p, w / p, p]).permuted([0, 2, 4, 1, 3, 5]).reshaped([b, (h / p) * (w / p), c * p * p])
    }
}

extension Tensor {
    /// A convolution whose stride equals its kernel (ViT / Flux patch embedding) as one matmul:
    /// images [B, C, H, W], weight [D, C, p, p] as PyTorch stores it, bias [D] -> [B, (H/p)(W/p), D].
    public func patchEmbedding(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3] && rank == 4 && shape[1] == weight.shape[1],
                     "patchEmbedding: images \(shape) do not match conv weight \(weight.shape)")
        let d = weight.shape[0], p = weight.shape[2]
        return patchified(p).linear(weight.reshaped([d, -1]), bias)
    }
}
