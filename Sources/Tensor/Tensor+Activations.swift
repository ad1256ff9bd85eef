import CKernels
import Foundation

// Activations and softmax as single fused passes, each with its analytic derivative.

extension Tensor {
    public func silu() -> Tensor {
        Tensor.map(self) { $0 / (1 + fastExp(-$0)) }.recorded([self]) { g in
            [Tensor.zipMap(g, self) { g, x in
                let s = 1 / (1 + fastExp(-x))
                return g * s * (1 + x * (1 - s))
            }]
        }
    }

    public func relu() -> Tensor {
        Tensor.map(self) { Swift.max($0, 0) }.recorded([self]) { g in [Tensor.zipMap(g, self) { g, x in x > 0 ? g : 0 }] }
    }

    /// x * sigmoid(1.702 x), CLIP's "quick_gelu": x / (1 + e^(-1.702 x)), and its derivative
    /// g s (1 + 1.702 x (1 - s)), vectorised in Sources/CKernels.
    public func quickGelu() -> Tensor { mapped(by: lorweb_quick_gelu, gradient: lorweb_quick_gelu_grad) }

    /// An elementwise function whose values, y = f(x), and gradient, dx = g f'(x), are C loops
    /// over n contiguous floats; both spread over the threads.
    private func mapped(by f: @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void,
                        gradient df: @convention(c) (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) -> Tensor
    {
        let y = Tensor(uninitialized: shape), px = data, py = y.data
        parallelFor(count, grain: 1 << 14) { r in f(px + r.lowerBound, py + r.lowerBound, r.count) }
        let x = self
        return y.recorded([x]) { g in
            let dx = Tensor(uninitialized: x.shape), px = x.data, pg = g.data, pd = dx.data
            parallelFor(x.count, grain: 1 << 14) { r in df(px + r.lowerBound, pg + r.lowerBound, pd + r.lowerBound, r.count) }
            return [dx]
        }
    }

    /// GELU: exact 0.5 x (1 + erf(x / sqrt 2)), or PyTorch's tanh approximation.
    public func gelu(approximate: Bool = false) -> Tensor {
        if approximate {
            // 0.5 x (1 + tanh(c (x + k x^3))), c = sqrt(2 / pi), k = 0.044715, and its derivative
            // g (0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 k x^2)), vectorised in Sources/CKernels.
            return mapped(by: lorweb_gelu_tanh, gradient: lorweb_gelu_tanh_grad)
        }
        return Tensor.map(self) { x in 0.5 * x * (1 + erff(x * 0.7071067811865476)) }.recorded([self]) { g in
            [Tensor.zipMap(g, self) { g, x in
                // d/dx = Phi(x) + x phi(x)
                g * (0.5 * (1 + erff(x * 0.7071067811865476)) + x * 0.3989422804014327 * fastExp(-0.5 * x * x))
            }]
        }
    }

    /// Runs `body(row pointer in, row pointer out)` over all rows of the last axis in parallel.
    @inline(__always)
    static func rowwise(_ x: Tensor, into out: Tensor, _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
        let n = x.shape.last ?? 1, rows = x.count / Swift.max(n, 1)
        let src = x.data, dst = out.data
        parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(n, 1))) { r in
            for i in r { body(src + i * n, dst + i * n, n) }
        }
    }

    /// Numerically stable softmax over the last axis.
    public func softmax() -> Tensor {
        let y = Tensor(uninitialized: shape)
        Tensor.rowwise(self, into: y) { s, d, n in
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, s[j]) }
            var z: Float = 0
            for j in 0..<n { d[j] = fastExp(s[j] - m) }   // apart from the sum, so that it vectorises
            for j in 0..<n { z += d[j] }
            let inv = 1 / z
            for j in 0..<n { d[j] *= inv }
        }
        let yd = y.detached()  // the closure must not hold y itself: y -> node -> closure -> y
        return y.recorded([self]) { g in
            // dx = y * (g - sum(g * y))
            let dx = Tensor(uninitialized: yd.shape), pg = g.data, py = yd.data
            Tensor.rowwise(yd, into: dx) { _, d, n in
                let off = d - dx.data, gr = pg + off, yr = py + off
                var dot: Float = 0
                for j in 0..<n { dot += gr[j] * yr[j] }
                for j in 0..<n { d[j] = yr[j] * (gr[j] - dot) }
            }
            return [dx]
        }
    }

    /// Numerically stable log-softmax over the last axis.
    public func logSoftmax() -> Tensor {
        let y = Tensor(uninitialized: shape)
        Tensor.rowwise(self, into: y) { s, d, n in
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, s[j]) }
            var z: Float = 0
            for j in 0..<n { z += fastExp(s[j] - m) }
            let lse = m + Foundation.log(z)
            for j in 0..<n { d[j] = s[j] - lse }
        }
        let yd = y.detached()
        return y.recorded([self]) { g in
            // dx = g - softmax * sum(g)
            let dx = Tensor(uninitialized: yd.shape), pg = g.data, py = yd.data
            Tensor.rowwise(yd, into: dx) { _, d, n in
                let off = d - dx.data, gr = pg + off, yr = py + off
                var total: Float = 0
                for j in 0..<n { total += gr[j] }
                for j in 0..<n { d[j] = gr[j] - fastExp(yr[j]) * total }
            }
            return [dx]
        }
    }
}
