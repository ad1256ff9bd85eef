import Foundation

// Scaled dot-product attention on the layout a Linear produces: [B, S, H*D], head h being the
// column block h*D ..< (h+1)*D. Heads are addressed through sgemm leading dimensions, so no
// permuted copies of q, k, v or of the output are ever made.
//
// Memory: the forward keeps only the output and one logsumexp per query row; the backward
// recomputes the probabilities from them. Score blocks live in per-worker scratch of at most
// `attentionRowTile` query rows, so nothing of size Sq x Sk exists per batch or per head.
//
// Determinism: work is cut into units whose boundaries depend only on the shapes (never on the
// thread count), products inside a unit are shape-determined sgemm tiles, and every output
// element is written by exactly one unit with a fixed order of accumulation. Results are bit-identical for any
// `Runtime.threads`.

/// Most query rows per score block: small enough that a [tile, Sk] block stays in cache-sized
/// scratch at Flux sequence lengths, large enough that the products stay efficient.
let attentionRowTile = 192

/// Rows per tile for `sq` queries: the fewest tiles of at most `attentionRowTile` rows, of equal
/// size (144 queries make one tile, not 128 + 16: a 16-row product runs at a fraction of the rate).
func attentionTileRows(_ sq: Int) -> Int {
    let tiles = Swift.max(1, (sq + attentionRowTile - 1) / attentionRowTile)
    return Swift.max(1, (sq + tiles - 1) / tiles)
}

extension Shape {
    /// Checks q [B, Sq, H*D], k and v [B, Sk, H*D] and returns the sizes attention works with.
    public static func attention(q: [Int], k: [Int], v: [Int], heads: Int) throws
        -> (batch: Int, queries: Int, keys: Int, headDim: Int)
    {
        let shapes = "q \(q), k \(k), v \(v), heads \(heads)"
        guard q.count == 3, k.count == 3, v.count == 3 else {
            throw ShapeError("attention: q, k and v must be [B, S, H*D]; got \(shapes)")
        }
        guard k == v else { throw ShapeError("attention: k and v must have the same shape; got \(shapes)") }
        guard q[0] == k[0] else { throw ShapeError("attention: batch sizes differ; got \(shapes)") }
        guard q[2] == k[2] else { throw ShapeError("attention: q and k have different widths; got \(shapes)") }
        guard heads > 0, q[2] > 0, q[2] % heads == 0 else {
            throw ShapeError("attention: width \(q[2]) is not a positive multiple of the head count; got \(shapes)")
        }
        // A softmax over no keys has no value; an empty query set is fine.
        guard k[1] > 0 else { throw ShapeError("attention: no keys to attend to; got \(shapes)") }
        return (q[0], q[1], k[1], q[2] / heads)
    }
}

/// Multi-head scaled dot-product attention, softmax(scale * Q K^T) V per batch row and head,
/// without masking.
///
/// - Parameters:
///   - q: queries `[B, Sq, H*D]`.
///   - k: keys `[B, Sk, H*D]`.
///   - v: values `[B, Sk, H*D]`.
///   - heads: H; head h is the column block `h*D ..< (h+1)*D` of each token.
///   - scale: factor on the scores; `1 / sqrt(D)` when nil.
/// - Returns: `[B, Sq, H*D]`, heads in the same column blocks (ready for the output Linear).
///
/// Differentiable in q, k and v; only the gradients of inputs that require them are computed.
/// Mismatched shapes stop with a message naming them (``Shape/attention(q:k:v:heads:)`` is the
/// same check as a throwing function, for callers that validate user input).
public func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, scale: Float? = nil) -> Tensor {
    let dims: (batch: Int, queries: Int, keys: Int, headDim: Int)
    do { dims = try Shape.attention(q: q.shape, k: k.shape, v: v.shape, heads: heads) } catch {
        preconditionFailure("\(error)")
    }
    let (batch, sq, sk, d) = (dims.batch, dims.queries, dims.keys, dims.headDim)
    let width = heads * d
    let scale = scale ?? 1 / Float(d).squareRoot()
    let tileRows = attentionTileRows(sq), tiles = (sq + tileRows - 1) / tileRows

    let out = Tensor(uninitialized: q.shape)  // [B, Sq, H*D]
    let lse = Tensor(uninitialized: [batch, heads, sq])
    let pq = q.data, pk = k.data, pv = v.data, po = out.data, pl = lse.data

    // One unit = one row tile of one (batch, head): enough units to fill the cores even for a
    // single head, and each writes its own output rows and logsumexps.
    parallelFor(batch * heads * tiles, grain: 1) { units in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * sk)
        let inverseSums = UnsafeMutablePointer<Float>.allocate(capacity: tileRows)
        defer { scores.deallocate(); inverseSums.deallocate() }
        for unit in units {
            let (bh, tile) = unit.quotientAndRemainder(dividingBy: tiles)
            let (b, h) = bh.quotientAndRemainder(dividingBy: heads)
            let row0 = tile * tileRows, rows = min(tileRows, sq - row0)
            let qh = pq + (b * sq + row0) * width + h * d
            let kh = pk + b * sk * width + h * d, vh = pv + b * sk * width + h * d
            // [rows, Sk] = scale * Q_h K_h^T
            sgemm(false, true, m: rows, n: sk, k: d, alpha: scale, qh, lda: width, kh, ldb: width,
                  scores, ldc: sk)
            for i in 0..<rows {
                let s = scores + i * sk
                let m = rowMax(s, sk)
                let z = expShiftedSum(s, sk, shift: m)
                inverseSums[i] = 1 / z
                pl[bh * sq + row0 + i] = m + Foundation.log(z)
            }
            // [rows, D] = P V_h, written straight into head h's columns of the output. The
            // softmax's 1/z is applied to the D outputs of a row rather than its Sk scores.
            let oh = po + (b * sq + row0) * width + h * d
            sgemm(false, false, m: rows, n: d, k: sk, scores, lda: sk, vh, ldb: width, oh, ldc: width)
            for i in 0..<rows {
                let o = oh + i * width, inv = inverseSums[i]
                for c in 0..<d { o[c] *= inv }
            }
        }
    }

    // Detached so the closure does not keep `out` (and through it this closure) alive.
    let o = out.detached()
    return out.recorded([q, k, v]) { g in
        let needQ = q.requiresGrad, needK = k.requiresGrad, needV = v.requiresGrad
        let needScores = needQ || needK  // dS is only needed for dQ and dK
        // dK and dV accumulate over the row tiles of a head: start from zero.
        let dq = needQ ? Tensor(uninitialized: q.shape) : nil
        let dk = needK ? Tensor.zeros(k.shape) : nil
        let dv = needV ? Tensor.zeros(v.shape) : nil
        // Pointers re-read from the captured tensors, which keeps their storage alive until now.
        let pq = q.data, pk = k.data, pv = v.data, pl = lse.data, pg = g.data, pO = o.data
        let pdq = dq?.data, pdk = dk?.data, pdv = dv?.data

        // Units are whole (batch, head) pairs: dK_h and dV_h sum over every query row of the head,
        // and one unit summing its tiles in order keeps that sum race-free and deterministic
        // (the price: with a single (batch, head) pair the backward runs on one core).
        parallelFor(batch * heads, grain: 1) { units in
            let blockSize = tileRows * sk
            let p = UnsafeMutablePointer<Float>.allocate(capacity: blockSize)
            let ds = needScores ? UnsafeMutablePointer<Float>.allocate(capacity: blockSize) : nil
            defer { p.deallocate(); ds?.deallocate() }
            for bh in units {
                let (b, h) = bh.quotientAndRemainder(dividingBy: heads)
                let kh = pk + b * sk * width + h * d, vh = pv + b * sk * width + h * d
                for tile in 0..<tiles {
                    let row0 = tile * tileRows, rows = min(tileRows, sq - row0)
                    let head = (b * sq + row0) * width + h * d  // offset of this tile in q, dO, O, dQ
                    // P = exp(scale * Q K^T - lse), recomputed: [rows, Sk]
                    sgemm(false, true, m: rows, n: sk, k: d, alpha: scale, pq + head, lda: width,
                          kh, ldb: width, p, ldc: sk)
                    for i in 0..<rows {
                        expShifted(p + i * sk, sk, shift: pl[bh * sq + row0 + i])
                    }
                    // dV_h += P^T dO: [Sk, D]
                    if let pdv {
                        sgemm(true, false, m: sk, n: d, k: rows, p, lda: sk, pg + head, ldb: width,
                              beta: 1, pdv + b * sk * width + h * d, ldc: width)
                    }
                    guard let ds else { continue }
                    // dP = dO V_h^T: [rows, Sk]
                    sgemm(false, true, m: rows, n: sk, k: d, pg + head, lda: width, vh, ldb: width,
                          ds, ldc: sk)
                    // dS = P * (dP - rowsum(dO * O)); the row sum is the softmax Jacobian's
                    // rank-one term, cheaper from the saved output than from P and dP.
                    for i in 0..<rows {
                        let gr = pg + head + i * width, orow = pO + head + i * width
                        var delta: Float = 0
                        for c in 0..<d { delta += gr[c] * orow[c] }
                        let pr = p + i * sk, dr = ds + i * sk
                        for j in 0..<sk { dr[j] = pr[j] * (dr[j] - delta) }
                    }
                    // dQ = scale * dS K_h: [rows, D]
                    if let pdq {
                        sgemm(false, false, m: rows, n: d, k: sk, alpha: scale, ds, lda: sk, kh, ldb: width,
                              pdq + head, ldc: width)
                    }
                    // dK_h += scale * dS^T Q: [Sk, D]
                    if let pdk {
                        sgemm(true, false, m: sk, n: d, k: rows, alpha: scale, ds, lda: sk, pq + head,
                              ldb: width, beta: 1, pdk + b * sk * width + h * d, ldc: width)
                    }
                }
            }
        }
    
        return [dq, dk, dv]
    }
}
