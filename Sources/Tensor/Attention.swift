import Foundation

// Scaled dot-product attention over the layout a Linear produces: q [B, Sq, H*D], k and v
// [B, Sk, H*D]. Head h of batch row b is the column block h*D..<(h+1)*D with leading dimension
// H*D, handed to sgemm as is, so no permute copies. Each (b, h) pair is one job; a job holds one
// [Sq, Sk] score block at a time, and the backward recomputes the probabilities from the saved
// per-row log-sum-exp instead of keeping them.
//
// Legend: B batch, Sq/Sk query/key tokens, H heads, D head dim, C = H*D.

/// Checks q, k, v layouts for multi-head attention; the error names all three shapes.
public func checkAttentionShapes(_ q: [Int], _ k: [Int], _ v: [Int], heads: Int) throws {
    guard q.count == 3, k.count == 3, v.count == 3, heads > 0, q[2] % heads == 0,
          k == v, q[0] == k[0], q[2] == k[2]
    else {
        throw ShapeError("attention: q \(q), k \(k), v \(v) are not [B, Sq, H*D], [B, Sk, H*D], [B, Sk, H*D] with H = \(heads)")
    }
}

/// softmax(q k^T * scale) v for every head; scale defaults to 1/sqrt(D). Returns [B, Sq, H*D].
public func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, scale: Float? = nil) -> Tensor {
    do { try checkAttentionShapes(q.shape, k.shape, v.shape, heads: heads) } catch { preconditionFailure("\(error)") }
    let (b, sq, c, sk) = (q.shape[0], q.shape[1], q.shape[2], k.shape[1])
    let d = c / heads, alpha = scale ?? 1 / Float(d).squareRoot()
    let out = Tensor(uninitialized: [b, sq, c])
    let lse = Tensor(uninitialized: [b, heads, sq])

    parallelFor(b * heads, grain: 1) { jobs in
        let s = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(sq * sk, 1))
        defer { s.deallocate() }
        for job in jobs {
            let (bi, h) = (job / heads, job % heads)
            let qh = q.data + bi * sq * c + h * d, kh = k.data + bi * sk * c + h * d, vh = v.data + bi * sk * c + h * d
            sgemm(false, true, m: sq, n: sk, k: d, alpha: alpha, qh, lda: c, kh, ldb: c, s, ldc: sk)   // [Sq, Sk]
            let l = lse.data + job * sq
            for i in 0..<sq {
                let row = s + i * sk
                var m = -Float.infinity
                for j in 0..<sk { m = Swift.max(m, row[j]) }
                var z: Float = 0
                for j in 0..<sk { row[j] = Foundation.exp(row[j] - m); z += row[j] }
                let inv = 1 / z
                for j in 0..<sk { row[j] *= inv }
                l[i] = m + Foundation.log(z)
            }
            sgemm(false, false, m: sq, n: d, k: sk, s, lda: sk, vh, ldb: c, out.data + bi * sq * c + h * d, ldc: c)
        }
    }

    return out.recorded([q, k, v]) { g in
        let dq = q.requiresGrad ? Tensor(uninitialized: q.shape) : nil
        let dk = k.requiresGrad ? Tensor(uninitialized: k.shape) : nil
        let dv = v.requiresGrad ? Tensor(uninitialized: v.shape) : nil
        parallelFor(b * heads, grain: 1) { jobs in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(sq * sk, 1))
            let dp = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(sq * sk, 1))
            defer { p.deallocate(); dp.deallocate() }
            for job in jobs {
                let (bi, h) = (job / heads, job % heads)
                let qOff = bi * sq * c + h * d, kOff = bi * sk * c + h * d
                let qh = q.data + qOff, kh = k.data + kOff, vh = v.data + kOff, gh = g.data + qOff, oh = out.data + qOff
                // P = exp(scale q k^T - lse), recomputed.
                sgemm(false, true, m: sq, n: sk, k: d, alpha: alpha, qh, lda: c, kh, ldb: c, p, ldc: sk)
                let l = lse.data + job * sq
                for i in 0..<sq {
                    let row = p + i * sk
                    for j in 0..<sk { row[j] = Foundation.exp(row[j] - l[i]) }
                }
                if let dv { sgemm(true, false, m: sk, n: d, k: sq, p, lda: sk, gh, ldb: c, dv.data + kOff, ldc: c) }  // dV = P^T dO
                guard dq != nil || dk != nil else { continue }
                // dS = P * (dO V^T - rowsum(dO * O))
                sgemm(false, true, m: sq, n: sk, k: d, gh, lda: c, vh, ldb: c, dp, ldc: sk)
                for i in 0..<sq {
                    var delta: Float = 0
                    for e in 0..<d { delta += gh[i * c + e] * oh[i * c + e] }
                    let pr = p + i * sk, dr = dp + i * sk
                    for j in 0..<sk { dr[j] = pr[j] * (dr[j] - delta) }
                }
                if let dq { sgemm(false, false, m: sq, n: d, k: sk, alpha: alpha, dp, lda: sk, kh, ldb: c, dq.data + qOff, ldc: c) }
                if let dk { sgemm(true, false, m: sk, n: d, k: sq, alpha: alpha, dp, lda: sk, qh, ldb: c, dk.data + kOff, ldc: c) }
            }
        }
        return [dq, dk, dv]
    }
}
