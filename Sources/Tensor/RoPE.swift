import Foundation

// Rotary position embedding as diffusers' Flux applies it (FluxPosEmbed + apply_rotary_emb with
// use_real, interleaved pairs): each axis i of the position ids owns d_i of the head's D channels,
// with frequencies theta^(-2j/d_i); channel pairs (2k, 2k+1) rotate by their angle.

public enum RoPE {
    /// cos and sin tables [S, D] for positions `ids` [S, n_axes], computed in Float64 like
    /// diffusers (its outer product promotes to float64) and rounded to Float32 once.
    public static func frequencies(ids: Tensor, axesDim: [Int], theta: Double = 10000) -> (cos: Tensor, sin: Tensor) {
        precondition(ids.rank == 2 && ids.shape[1] == axesDim.count && axesDim.allSatisfy { $0 % 2 == 0 },
                     "RoPE: ids \(ids.shape) do not match axes \(axesDim) (each even)")
        let s = ids.shape[0], d = axesDim.reduce(0, +)
        let cos = Tensor(uninitialized: [s, d]), sin = Tensor(uninitialized: [s, d])
        for t in 0..<s {
            var col = 0
            for (axis, dim) in axesDim.enumerated() {
                let pos = Double(ids.data[t * axesDim.count + axis])
                for j in 0..<(dim / 2) {
                    let angle = pos * (1 / Foundation.pow(theta, Double(2 * j) / Double(dim)))
                    let (c, sn) = (Float(Foundation.cos(angle)), Float(Foundation.sin(angle)))
                    cos.data[t * d + col] = c; cos.data[t * d + col + 1] = c
                    sin.data[t * d + col] = sn; sin.data[t * d + col + 1] = sn
                    col += 2
                }
            }
        }
        return (cos, sin)
    }
}

extension Tensor {
    /// Rotates channel pairs of x [B, S, H*D] by the tables cos, sin [S, D] (the same for every head):
    /// out_2k = x_2k cos_2k - x_2k+1 sin_2k, out_2k+1 = x_2k+1 cos_2k+1 + x_2k sin_2k+1.
    public func applyingRoPE(cos: Tensor, sin: Tensor, heads: Int) -> Tensor {
        precondition(rank == 3 && cos.shape == sin.shape && cos.shape == [shape[1], shape[2] / heads] && shape[2] % heads == 0,
                     "RoPE: input \(shape) with \(heads) heads does not match tables \(cos.shape)")
        let out = Tensor(uninitialized: shape)
        Tensor.rotate(self, into: out, cos: cos, sin: sin, heads: heads, inverse: false)
        return out.recorded([self]) { g in
            let dx = Tensor(uninitialized: g.shape)
            Tensor.rotate(g, into: dx, cos: cos, sin: sin, heads: heads, inverse: true)
            return [dx]
        }
    }

    /// The rotation (or, for the gradient, its transpose:
    /// dx_2k = g_2k cos_2k + g_2k+1 sin_2k+1, dx_2k+1 = g_2k+1 cos_2k+1 - g_2k sin_2k).
    static func rotate(_ x: Tensor, into out: Tensor, cos: Tensor, sin: Tensor, heads: Int, inverse: Bool) {
        let (s, c) = (x.shape[1], x.shape[2]), d = c / heads, rows = x.count / c
        let src = x.data, dst = out.data, pc = cos.data, ps = sin.data
        parallelFor(rows, grain: Swift.max(1, 4096 / c)) { r in
            for row in r {
                let t = row % s, cr = pc + t * d, sr = ps + t * d
                for h in 0..<heads {
                    let xi = src + row * c + h * d, o = dst + row * c + h * d
                    for k in stride(from: 0, to: d, by: 2) {
                        let (a, b) = (xi[k], xi[k + 1])
                        if inverse {
                            o[k] = a * cr[k] + b * sr[k + 1]
                            o[k + 1] = b * cr[k + 1] - a * sr[k]
                        } else {
                            o[k] = a * cr[k] - b * sr[k]
                            o[k + 1] = b * cr[k + 1] + a * sr[k + 1]
                        }
                    }
                }
            }
        }
    }
}
