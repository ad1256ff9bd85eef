import Foundation

// Flux's rotary position embedding, with the semantics of diffusers' `FluxPosEmbed` and
// `apply_rotary_emb(use_real=True, use_real_unbind_dim=-1)`: each token carries one position
// per axis (Flux: 3 axes), each axis owns a slice of the head dimension, and adjacent channel
// pairs (2k, 2k+1) are rotated by position * frequency.

extension Shape {
    /// Checks x [B, S, H*D] against cos and sin [S, D] for `heads` heads.
    public static func rope(x: [Int], cos: [Int], sin: [Int], heads: Int) throws {
        let shapes = "x \(x), cos \(cos), sin \(sin), heads \(heads)"
        guard x.count == 3, cos.count == 2, cos == sin else {
            throw ShapeError("rope: x must be [B, S, H*D] and cos, sin both [S, D]; got \(shapes)")
        }
        guard heads > 0, x[2] == heads * cos[1] else {
            throw ShapeError("rope: x width must be heads * D; got \(shapes)")
        }
        guard x[1] == cos[0] else { throw ShapeError("rope: x has a different sequence length than cos; got \(shapes)") }
        guard cos[1] % 2 == 0 else { throw ShapeError("rope: head dimension must be even (channel pairs); got \(shapes)") }
    }
}

/// Rotary position tables for multi-axis positions (Flux's `FluxPosEmbed`).
public enum RoPE {
    /// cos and sin tables for token positions `ids`.
    ///
    /// For axis i with `axesDim[i]` = d channels, frequency j < d/2 is 1 / theta^(2j/d); every
    /// angle pos * freq is repeated for both channels of its pair, and the axes are concatenated
    /// in order along the channel axis. Angles and their cos/sin are computed in Double (Flux
    /// positions reach the thousands, where a Float angle is off by ~1e-4) and stored as Float.
    ///
    /// - Parameters:
    ///   - ids: positions `[S, axes]`, one column per axis (Flux: 3).
    ///   - axesDim: channels per axis, each even; they sum to the head dimension D.
    /// - Returns: cos and sin, each `[S, D]`, to pass to ``Tensor/applyingRoPE(cos:sin:heads:)``.
    public static func frequencies(ids: Tensor, axesDim: [Int], theta: Double = 10000) -> (cos: Tensor, sin: Tensor) {
        precondition(ids.rank == 2 && ids.shape[1] == axesDim.count,
                     "RoPE.frequencies: ids \(ids.shape) need one column per axis of axesDim \(axesDim)")
        precondition(axesDim.allSatisfy { $0 > 0 && $0 % 2 == 0 }, "RoPE.frequencies: axesDim \(axesDim) must be positive and even")
        let s = ids.shape[0], axes = axesDim.count, dim = axesDim.reduce(0, +)
        // Per output channel: which axis it reads and its frequency (the pair's, repeated).
        var channelAxis = [Int](), channelFreq = [Double]()
        for (axis, d) in axesDim.enumerated() {
            for j in 0..<d / 2 {
                let f = 1 / Foundation.pow(theta, Double(2 * j) / Double(d))
                channelAxis += [axis, axis]
                channelFreq += [f, f]
            }
        }
        let cos = Tensor(uninitialized: [s, dim]), sin = Tensor(uninitialized: [s, dim])
        let pid = ids.data, pc = cos.data, ps = sin.data
        channelAxis.withUnsafeBufferPointer { ca in
            channelFreq.withUnsafeBufferPointer { cf in
                parallelFor(s, grain: Swift.max(1, 2048 / dim)) { rows in
                    for t in rows {
                        for c in 0..<dim {
                            let angle = Double(pid[t * axes + ca[c]]) * cf[c]
                            pc[t * dim + c] = Float(Foundation.cos(angle))
                            ps[t * dim + c] = Float(Foundation.sin(angle))
                        }
                    }
                }
            }
        }
        return (cos, sin)
    }
}

extension Tensor {
    /// Rotates channel pairs of every head by the position tables from ``RoPE/frequencies(ids:axesDim:theta:)``.
    ///
    /// `self` is `[B, S, H*D]` (the layout a Linear produces); every head of token s uses row s
    /// of `cos` and `sin` (`[S, D]`):
    /// out[2k] = x[2k] cos[2k] - x[2k+1] sin[2k],  out[2k+1] = x[2k+1] cos[2k+1] + x[2k] sin[2k+1].
    ///
    /// Differentiable in `self`; the tables are constants and receive no gradient.
    public func applyingRoPE(cos: Tensor, sin: Tensor, heads: Int) -> Tensor {
        do { try Shape.rope(x: shape, cos: cos.shape, sin: sin.shape, heads: heads) } catch {
            preconditionFailure("\(error)")
        }
        let out = Tensor(uninitialized: shape)
        Tensor.rotatePairs(self, into: out, cos: cos, sin: sin, heads: heads, inverse: false)
        let inShape = shape
        return out.recorded([self]) { g in
            // The transpose of a rotation by theta is the rotation by -theta.
            let dx = Tensor(uninitialized: inShape)
            Tensor.rotatePairs(g, into: dx, cos: cos, sin: sin, heads: heads, inverse: true)
            return [dx]
        }
    }

    /// One fused pass over the rows of `x` [B, S, H*D]. With `inverse` it applies the transpose,
    /// dx[2k] = g[2k] cos[2k] + g[2k+1] sin[2k+1], dx[2k+1] = g[2k+1] cos[2k+1] - g[2k] sin[2k],
    /// which reads each table entry where the forward's Jacobian has it (the tables repeat each
    /// value over a pair, but nothing here relies on that).
    private static func rotatePairs(_ x: Tensor, into out: Tensor, cos: Tensor, sin: Tensor, heads: Int, inverse: Bool) {
        let s = x.shape[1], width = x.shape[2], d = width / heads, rows = x.count / Swift.max(width, 1)
        let px = x.data, po = out.data, pc = cos.data, ps = sin.data
        parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(width, 1))) { r in
            for row in r {
                let c = pc + (row % s) * d, sn = ps + (row % s) * d
                for h in 0..<heads {
                    let xi = px + row * width + h * d, oi = po + row * width + h * d
                    for k in stride(from: 0, to: d, by: 2) {
                        let a = xi[k], b = xi[k + 1]
                        if inverse {
                            oi[k] = a * c[k] + b * sn[k + 1]
                            oi[k + 1] = b * c[k + 1] - a * sn[k]
                        } else {
                            oi[k] = a * c[k] - b * sn[k]
                            oi[k + 1] = b * c[k + 1] + a * sn[k + 1]
                        }
                    }
                }
            }
        }
    }
}
