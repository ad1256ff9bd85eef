import CBLAS

// Matrix products through cblas_sgemm. Transposes are BLAS flags, never copies; a batch that
// shares a 2-D right operand is folded into one tall sgemm.

/// C[m,n] = alpha * op(A) op(B) + beta * C (+ bias[n] on every row), row-major, with leading
/// dimensions of the stored layouts. A bias (beta 0 only) is where each tile's product starts.
///
/// OpenBLAS's own threading changes how it blocks the K loop with the thread count, and with it
/// the rounding of every output. So OpenBLAS always runs single-threaded and we split C into
/// tiles whose sizes depend only on (m, n, k): each tile is the same single-threaded call
/// whatever `Runtime.threads` is, and the threads only decide who runs which tile.
func sgemm(_ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
           _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil)
{
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS leaves C scaled by beta; make the empty product explicit.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = (beta == 0 ? 0 : beta * c[i * ldc + j]) + (bias?[j] ?? 0) } }
        return
    }
    precondition(bias == nil || beta == 0, "sgemm: a bias is only added to a fresh product (beta 0)")
    func call(_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
              _ bias: UnsafePointer<Float>?) {
        // With a bias, C starts as the bias and the product accumulates onto it (beta 1, which
        // OpenBLAS leaves alone): one pass over C instead of its zeroing pass and a bias pass.
        if let bias { for i in 0..<m { (c + i * ldc).update(from: bias, count: n) } }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), bias == nil ? beta : 1, c, Int32(ldc))
    }
    let tiles = gemmTiles(m: m, n: n, k: k)
    if tiles.count == 1 {
        call(m, n, a, b, c, bias)
        return
    }
    // Split the larger of M and N, so each tile re-packs only the smaller operand.
    let splitRows = tiles.alongM, size = tiles.size
    parallelFor(tiles.count, grain: 1) { r in
        for t in r {
            let lo = t * size, hi = Swift.min(lo + size, splitRows ? m : n)
            if splitRows {
                call(hi - lo, n, a + (transA ? lo : lo * lda), b, c + lo * ldc, bias)
            } else {
                call(m, hi - lo, a, b + (transB ? lo * ldb : lo), c + lo, bias.map { $0 + lo })
            }
        }
    }
}

/// Tiling of an sgemm output, a function of the shape alone. Every tile re-packs the other
/// operand, so tiles grow with that operand (64 to 512 rows or columns), but never past half the
/// output: a weight gradient (a small output summed over a long K of batch rows) would otherwise
/// be one tile on one core. At most 8 tiles, an even number so two threads split them evenly,
/// and one tile below ~2 MFLOP.
func gemmTiles(m: Int, n: Int, k: Int) -> (alongM: Bool, size: Int, count: Int) {
    let alongM = m >= n
    let extent = alongM ? m : n, other = alongM ? n : m
    if 2 * m * n * k < (1 << 21) { return (alongM, extent, 1) }
    let minTile = Swift.max(64, Swift.min(512, other * k / 2048, extent / 2))
    var count = Swift.max(1, Swift.min(8, extent / minTile))
    if count > 1 { count -= count % 2 }
    let size = (extent + count - 1) / count
    return (alongM, size, (extent + size - 1) / size)
}

extension Tensor {
    /// Batched matrix product of the last two axes: op(self) @ op(other), where op transposes
    /// when asked. Batch axes must match, or one operand is 2-D and shared across the batch.
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        let dims: (batch: [Int], m: Int, k: Int, n: Int)
        do { dims = try Shape.matmul(shape, other.shape, transposeA: transposeA, transposeB: transposeB) } catch {
            preconditionFailure("\(error)")
        }
        let (m, k, n) = (dims.m, dims.k, dims.n)
        let out = Tensor(uninitialized: dims.batch + [m, n])
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        if other.rank == 2 && !transposeA {
            // [..., M, K] @ [K, N]: fold the batch into the rows of one product.
            sgemm(false, transposeB, m: count / Swift.max(k, 1), n: n, k: k, data, lda: k, other.data, ldb: ldb, out.data, ldc: n)
        } else {
            let batch = Shape.count(dims.batch)
            let strideA = rank == 2 ? 0 : m * k, strideB = other.rank == 2 ? 0 : k * n
            for i in 0..<batch {
                sgemm(transposeA, transposeB, m: m, n: n, k: k, data + i * strideA, lda: lda,
                      other.data + i * strideB, ldb: ldb, out.data + i * m * n, ldc: n)
            }
        }
        let a = self, b = other
        return out.recorded([a, b]) { g in
            // C = op(A) op(B): each gradient is again one product with flags, summed over a shared batch.
            var ga: Tensor? = nil, gb: Tensor? = nil
            let ad = a.detached(), bd = b.detached()
            if a.requiresGrad {
                switch (transposeA, transposeB) {
                case (false, false): ga = g.matmul(bd, transposeB: true)
                case (false, true): ga = g.matmul(bd)
                case (true, false): ga = bd.matmul(g, transposeB: true)
                case (true, true): ga = bd.matmul(g, transposeA: true, transposeB: true)
                }
                ga = ga!.sumTo(a.shape)
            }
            if b.requiresGrad {
                if b.rank == 2 && a.rank > 2 && !transposeA {
                    // Shared weight: flatten the batch so one sgemm sums it.
                    let a2 = ad.reshaped([-1, k]), g2 = g.reshaped([-1, n])
                    gb = transposeB ? g2.matmul(a2, transposeA: true) : a2.matmul(g2, transposeA: true)
                } else {
                    switch (transposeA, transposeB) {
                    case (false, false): gb = ad.matmul(g, transposeA: true)
                    case (false, true): gb = g.matmul(ad, transposeA: true)
                    case (true, false): gb = ad.matmul(g)
                    case (true, true): gb = g.matmul(ad, transposeA: true, transposeB: true)
                    }
                    gb = gb!.sumTo(b.shape)
                }
            }
            return [ga, gb]
        }
    }

    /// y = x W^T + b for x [..., in], weight [out, in] as PyTorch stores it, bias [out].
    /// One sgemm with a transposed weight, the bias added per output tile. Gradients are computed only for
    /// the operands that require them (frozen weights cost no weight-gradient product).
    public func linear(_ weight: Tensor, _ bias: Tensor? = nil) -> Tensor {
        precondition(weight.rank == 2 && rank >= 1 && shape[rank - 1] == weight.shape[1],
                     "linear: input \(shape) does not match weight \(weight.shape)")
        let inF = weight.shape[1], outF = weight.shape[0], rows = count / Swift.max(inF, 1)
        if let bias { precondition(bias.shape == [outF], "linear: bias \(bias.shape) does not match weight \(weight.shape)") }
        let out = Tensor(uninitialized: Array(shape.dropLast()) + [outF])
        sgemm(false, true, m: rows, n: outF, k: inF, data, lda: inF, weight.data, ldb: inF, out.data, ldc: outF,
              bias: bias?.data)
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        // The input is kept only for a weight gradient: a frozen layer's backward needs the weight alone.
        let saved = weight.requiresGrad ? self.detached() : nil, inShape = shape, needX = requiresGrad
        return out.recorded(inputs) { g in
            var gx: Tensor? = nil, gw: Tensor? = nil, gbias: Tensor? = nil
            if needX {
                let t = Tensor(uninitialized: inShape)
                sgemm(false, false, m: rows, n: inF, k: outF, g.data, lda: outF, weight.data, ldb: inF, t.data, ldc: inF)
                gx = t
            }
            if let x = saved {
                let t = Tensor(uninitialized: weight.shape)
                sgemm(true, false, m: outF, n: inF, k: rows, g.data, lda: outF, x.data, ldb: inF, t.data, ldc: inF)
                gw = t
            }
            if let bias, bias.requiresGrad { gbias = g.reshaped([rows, outF]).sum(axis: 0).detached() }
            return bias == nil ? [gx, gw] : [gx, gw, gbias]
        }
    }
}
