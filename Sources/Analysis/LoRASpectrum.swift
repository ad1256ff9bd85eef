import Models
import Tensor

// Linear algebra of one adapted layer that never materialises a [in, out] weight. With the basis
// stacked as A = [A_1 .. A_n] [in, n r] and B = [B_1; ..; B_n] [n r, out], a mixed LoRA is
//
//   Delta W(alpha) = s A diag(alpha (x) 1_r) B          (rank <= n r)
//
// Thin QR once per layer, A = Q_a R_a and B^T = Q_b R_b, turns it into
// Q_a [s R_a diag(alpha (x) 1_r) R_b^T] Q_b^T: the singular values of Delta W are those of that
// n r x n r core, whatever in and out are. Frobenius inner products of mixed LoRAs reduce to
// s^2 alpha^T G beta with the n x n Gram matrix G_ij = <A_i B_i, A_j B_j>_F.
//
// Legend: n basis elements, r rank, k = n r, I in features, O out features.

public struct LayerFactors {
    public let n: Int, r: Int, scale: Float
    /// Q_a [I, k], R_a [k, k] of the stacked A; Q_b [O, k], R_b [k, k] of the stacked B^T.
    public let qa: Tensor, ra: Tensor, qb: Tensor, rb: Tensor

    /// Factors the basis of one adapter. Needs I >= k and O >= k (true for every Flux layer).
    public init(_ adapter: LoRABasis) throws {
        try self.init(loraA: adapter.loraA, loraB: adapter.loraB, scale: adapter.config.scale)
    }

    /// lora_A [n, I, r] and lora_B [n, r, O] as stored.
    public init(loraA: Tensor, loraB: Tensor, scale: Float) throws {
        let (n, inF, r, outF) = (loraA.shape[0], loraA.shape[1], loraA.shape[2], loraB.shape[2])
        self.n = n; self.r = r; self.scale = scale
        let a = withNoGrad { loraA.permuted([1, 0, 2]).reshaped([inF, n * r]) }        // [I, k]
        let bt = withNoGrad { loraB.reshaped([n * r, outF]).transposed() }             // [O, k]
        (qa, ra) = try Linalg.qr(a)
        (qb, rb) = try Linalg.qr(bt)
    }

    public var k: Int { n * r }

    /// s R_a diag(alpha (x) 1_r) R_b^T [k, k] for coefficients alpha [n].
    public func core(_ alpha: [Float]) -> Tensor {
        precondition(alpha.count == n, "core: \(alpha.count) coefficients for a basis of \(n)")
        let scaled = Tensor(shape: [1, k], data: alpha.flatMap { [Float](repeating: $0 * scale, count: r) })
        return withNoGrad { (ra * scaled).matmul(rb, transposeB: true) }
    }

    /// Singular values of Delta W(alpha), descending [k].
    public func singularValues(_ alpha: [Float]) throws -> Tensor {
        try Linalg.svd(core(alpha), computeVectors: false).s
    }

    /// The top `count` singular triplets of Delta W(alpha) as Delta W = U diag(s) V^T with
    /// U [I, count] (input side) and V [O, count] (output side).
    public func singularVectors(_ alpha: [Float], count: Int) throws -> (u: Tensor, s: Tensor, v: Tensor) {
        let (uc, s, vt) = try Linalg.svd(core(alpha))
        let c = min(count, k)
        return withNoGrad {
            (qa.matmul(uc!.sliced(axis: 1, 0..<c)), s.sliced(axis: 0, 0..<c), qb.matmul(vt!.sliced(axis: 0, 0..<c), transposeB: true))
        }
    }

    /// G_ij = <A_i B_i, A_j B_j>_F [n, n] (without the scale s):
    /// sum over the r x r blocks of (A^T A) and (B B^T), elementwise, which equals
    /// (R_a^T R_a) and (R_b^T R_b) block by block.
    public func gram() -> Tensor {
        let (p, q) = withNoGrad { (ra.matmul(ra, transposeA: true), rb.matmul(rb, transposeA: true)) }   // [k, k] each
        var g = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            var acc: Double = 0
            for a in 0..<r { for b in 0..<r {
                let idx = (i * r + a) * k + (j * r + b)
                acc += Double(p.data[idx]) * Double(q.data[idx])
            } }
            g[i * n + j] = Float(acc)
        } }
        return Tensor(shape: [n, n], data: g)
    }

    /// Singular values of every basis element A_i B_i [n, r] (descending per row). With Q_a, Q_b
    /// orthonormal, A_i B_i has the singular values of X Y^T for the column blocks X, Y of R_a,
    /// R_b [k, r]; one QR of each reduces that to an r x r SVD.
    public func elementSpectra() throws -> Tensor {
        var out: [Float] = []
        for i in 0..<n {
            let x = ra.sliced(axis: 1, (i * r)..<((i + 1) * r)), y = rb.sliced(axis: 1, (i * r)..<((i + 1) * r))
            let (rx, ry) = (try Linalg.qr(x).r, try Linalg.qr(y).r)
            out += try Linalg.svd(withNoGrad { rx.matmul(ry, transposeB: true) }, computeVectors: false).s.toArray()
        }
        return Tensor(shape: [n, r], data: out)
    }
}

/// Cosine similarity between the keys of a basis, [n, n].
public func keySimilarity(_ keys: Tensor) -> Tensor {
    withNoGrad {
        let unit = keys.l2Normalized()
        return unit.matmul(unit, transposeB: true)
    }
}
