import Foundation

// Elementwise ops with NumPy broadcasting. Each op is one fused pass over contiguous memory;
// gradients of broadcast inputs are summed back to the input's shape (`sumTo`).

// MARK: - Kernels

extension Tensor {
    /// out[i] = f(a[i]) over a contiguous buffer, split across threads.
    @inline(__always)
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        let src = a.data, dst = out.data
        parallelFor(a.count, grain: 1 << 14) { r in
            for i in r { dst[i] = f(src[i]) }
        }
        return out
    }

    /// out[i] = f(a[i], b[i]) for two same-shape buffers.
    @inline(__always)
    static func zipMap(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        let pa = a.data, pb = b.data, dst = out.data
        parallelFor(a.count, grain: 1 << 14) { r in
            for i in r { dst[i] = f(pa[i], pb[i]) }
        }
        return out
    }

    /// f applied under broadcasting. The innermost output axis is walked with each operand's
    /// stride (1 or 0), so the common cases (bias rows, per-row scales, scalars) stay tight loops.
    @inline(__always)
    static func broadcastMap(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        if a.shape == b.shape { return zipMap(a, b, f) }
        let shape: [Int]
        do { shape = try Shape.broadcast(a.shape, b.shape) } catch { preconditionFailure("\(error)") }
        let out = Tensor(uninitialized: shape)
        let pa = a.data, pb = b.data, dst = out.data
        if b.count == 1 {
            let s = pb[0]
            parallelFor(out.count, grain: 1 << 14) { r in for i in r { dst[i] = f(pa[i], s) } }
            return out
        }
        if a.count == 1 {
            let s = pa[0]
            parallelFor(out.count, grain: 1 << 14) { r in for i in r { dst[i] = f(s, pb[i]) } }
            return out
        }
        let rank = shape.count
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        let inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1]
        let rows = out.count / Swift.max(inner, 1)
        let outer = Array(shape.dropLast())
        parallelFor(rows, grain: Swift.max(1, (1 << 14) / Swift.max(inner, 1))) { r in
            for row in r {
                var rem = row, oa = 0, ob = 0
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    let idx = rem % outer[d]
                    rem /= outer[d]
                    oa += idx * sa[d]
                    ob += idx * sb[d]
                }
                let o = dst + row * inner
                for j in 0..<inner { o[j] = f(pa[oa + j * ia], pb[ob + j * ib]) }
            }
        }
        return out
    }

    /// Element strides of `shape` read as if broadcast to `target` (0 along broadcast axes).
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let own = Shape.strides(shape)
        let lead = target.count - shape.count
        return (0..<target.count).map { i in
            i < lead || shape[i - lead] == 1 ? 0 : own[i - lead]
        }
    }
}

// MARK: - Broadcasting helpers

extension Tensor {
    /// Sums this tensor down to `target`, the inverse of broadcasting `target` to `shape`.
    public func sumTo(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        var axes: [Int] = Array(0..<lead)
        for i in 0..<target.count where target[i] == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(axes: axes, keepDims: true).reshaped(target)
    }

    /// Materialises this tensor broadcast to `target`; the gradient sums back.
    public func expanded(to target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition((try? Shape.broadcast(shape, target)) == target, "cannot expand \(shape) to \(target)")
        let own = shape
        return Tensor.stridedCopy(self, shape: target, strides: Tensor.broadcastStrides(shape, to: target))
            .recorded([self]) { g in [g.sumTo(own)] }
    }
}

// MARK: - Arithmetic

extension Tensor {
    // + and - keep only shapes and flags for backward, not the operands: holding them would keep
    // every residual stream's summands alive until backward reaches them.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let (shapeA, shapeB, needA, needB) = (a.shape, b.shape, a.requiresGrad, b.requiresGrad)
        return broadcastMap(a, b, +).recorded([a, b]) { g in
            [needA ? g.sumTo(shapeA) : nil, needB ? g.sumTo(shapeB) : nil]
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let (shapeA, shapeB, needA, needB) = (a.shape, b.shape, a.requiresGrad, b.requiresGrad)
        return broadcastMap(a, b, -).recorded([a, b]) { g in
            [needA ? g.sumTo(shapeA) : nil, needB ? (-g).sumTo(shapeB) : nil]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        broadcastMap(a, b, *).recorded([a, b]) { g in
            [a.requiresGrad ? (g * b.detached()).sumTo(a.shape) : nil,
             b.requiresGrad ? (g * a.detached()).sumTo(b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        broadcastMap(a, b, /).recorded([a, b]) { g in
            let bd = b.detached()
            return [a.requiresGrad ? (g / bd).sumTo(a.shape) : nil,
                    b.requiresGrad ? (Tensor.broadcastMap(g, bd, /) * a.detached() / bd).neg().sumTo(b.shape) : nil]
        }
    }

    public static prefix func - (a: Tensor) -> Tensor { a.neg() }

    public static func + (a: Tensor, s: Float) -> Tensor {
        map(a) { $0 + s }.recorded([a]) { g in [g] }
    }
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (s: Float, a: Tensor) -> Tensor { a.neg() + s }

    public static func * (a: Tensor, s: Float) -> Tensor {
        map(a) { $0 * s }.recorded([a]) { g in [g * s] }
    }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }

    public func neg() -> Tensor {
        Tensor.map(self) { -$0 }.recorded([self]) { g in [g.neg()] }
    }
}

// MARK: - Unary math

extension Tensor {
    public func exp() -> Tensor {
        let y = Tensor.map(self) { fastExp($0) }
        let yd = y.detached()  // the closure must not hold y itself: y -> node -> closure -> y
        return y.recorded([self]) { g in [g * yd] }
    }

    public func log() -> Tensor {
        Tensor.map(self) { Foundation.log($0) }.recorded([self]) { g in [g / self.detached()] }
    }

    public func sqrt() -> Tensor {
        let y = Tensor.map(self) { $0.squareRoot() }
        let yd = y.detached()
        return y.recorded([self]) { g in [Tensor.zipMap(g, yd) { g, y in g * 0.5 / y }] }
    }

    public func rsqrt() -> Tensor {
        let y = Tensor.map(self) { 1 / $0.squareRoot() }
        // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
        let yd = y.detached()
        return y.recorded([self]) { g in [Tensor.zipMap(g, yd) { g, y in -0.5 * g * y * y * y }] }
    }

    public func tanh() -> Tensor {
        let y = Tensor.map(self) { Foundation.tanh($0) }
        let yd = y.detached()
        return y.recorded([self]) { g in [Tensor.zipMap(g, yd) { g, y in g * (1 - y * y) }] }
    }

    public func sigmoid() -> Tensor {
        let y = Tensor.map(self) { 1 / (1 + fastExp(-$0)) }
        let yd = y.detached()
        return y.recorded([self]) { g in [Tensor.zipMap(g, yd) { g, y in g * y * (1 - y) }] }
    }

    public func square() -> Tensor {
        Tensor.map(self) { $0 * $0 }.recorded([self]) { g in [Tensor.zipMap(g, self) { g, x in 2 * g * x }] }
    }

    public func abs() -> Tensor {
        Tensor.map(self) { Swift.abs($0) }.recorded([self]) { g in
            [Tensor.zipMap(g, self) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }]
        }
    }

    /// x^p for a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        Tensor.map(self) { Foundation.pow($0, p) }.recorded([self]) { g in
            [Tensor.zipMap(g, self) { g, x in g * p * Foundation.pow(x, p - 1) }]
        }
    }

    /// Clamps into [lo, hi]; the gradient passes where the input lies inside the range.
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        Tensor.map(self) { Swift.min(Swift.max($0, lo), hi) }.recorded([self]) { g in
            [Tensor.zipMap(g, self) { g, x in x >= lo && x <= hi ? g : 0 }]
        }
    }
}

// MARK: - Comparisons and selection (masks are 0/1 floats and carry no gradient)

extension Tensor {
    public func gt(_ other: Tensor) -> Tensor { Tensor.broadcastMap(self, other) { $0 > $1 ? 1 : 0 } }
    public func ge(_ other: Tensor) -> Tensor { Tensor.broadcastMap(self, other) { $0 >= $1 ? 1 : 0 } }
    public func lt(_ other: Tensor) -> Tensor { Tensor.broadcastMap(self, other) { $0 < $1 ? 1 : 0 } }
    public func le(_ other: Tensor) -> Tensor { Tensor.broadcastMap(self, other) { $0 <= $1 ? 1 : 0 } }
    public func eq(_ other: Tensor) -> Tensor { Tensor.broadcastMap(self, other) { $0 == $1 ? 1 : 0 } }

    /// Picks `a` where `condition` is non-zero and `b` elsewhere, all three broadcast together.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape: [Int]
        do { shape = try Shape.broadcast(try Shape.broadcast(condition.shape, a.shape), b.shape) } catch {
            preconditionFailure("where: \(error)")
        }
        let c = condition.expanded(to: shape).detached()
        let ae = withNoGrad { a.expanded(to: shape) }, be = withNoGrad { b.expanded(to: shape) }
        let out = Tensor(uninitialized: shape)
        let pc = c.data, pa = ae.data, pb = be.data, o = out.data
        parallelFor(out.count, grain: 1 << 14) { r in for i in r { o[i] = pc[i] != 0 ? pa[i] : pb[i] } }
        return out.recorded([a, b]) { g in
            [a.requiresGrad ? zipMap(g, c) { g, c in c != 0 ? g : 0 }.sumTo(a.shape) : nil,
             b.requiresGrad ? zipMap(g, c) { g, c in c != 0 ? 0 : g }.sumTo(b.shape) : nil]
        }
    }
}
