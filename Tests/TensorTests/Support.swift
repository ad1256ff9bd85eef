import Foundation
import Testing
@testable import Tensor
import TestSupport

/// SplitMix64: test inputs that do not depend on the library's own RNG.
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func tensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> Tensor {
        Tensor(shape: shape, data: (0..<Shape.count(shape)).map { _ in uniform(lo, hi) })
    }
}

/// Largest |a - b| over two same-shape tensors.
func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes \(a.shape) vs \(b.shape)")
    var m: Float = 0
    for i in 0..<a.count {
        let d = abs(a.data[i] - b.data[i])
        if !(d <= m) { m = d }  // NaN propagates: max(m, .nan) would drop it
    }
    return m
}

/// Compares analytic gradients of `f` at `inputs` with central finite differences of the scalar
/// L = sum(f(x) * w) for a fixed random w, accumulated in Float64. Returns the worst error,
/// relative to max(1, |numeric|); the test fails above `tolerance`.
@discardableResult
func gradCheck(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, tolerance: Double = 1e-2,
               seed: UInt64 = 7, sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) -> Double
{
    for x in inputs { x.requiresGrad = true; x.grad = nil }
    let out = f(inputs)
    var rng = TestRNG(seed)
    let w = rng.tensor(out.shape)
    (out * w).sum().backward()

    func loss() -> Double {
        withNoGrad {
            let y = f(inputs)
            var acc = 0.0
            for i in 0..<y.count { acc += Double(y.data[i]) * Double(w.data[i]) }
            return acc
        }
    }
    var worst = 0.0
    for (k, x) in inputs.enumerated() {
        guard let g = x.grad else {
            Issue.record("\(name): input \(k) received no gradient", sourceLocation: sourceLocation)
            continue
        }
        for i in 0..<x.count {
            let saved = x.data[i]
            x.data[i] = saved + eps
            let lp = loss()
            x.data[i] = saved - eps
            let lm = loss()
            x.data[i] = saved
            let numeric = (lp - lm) / Double(2 * eps)
            let err = abs(numeric - Double(g.data[i])) / max(1, abs(numeric))
            if !(err <= worst) { worst = err }  // NaN propagates and fails the check
        }
    }
    print("gradCheck \(name): worst error \(worst)")
    #expect(worst <= tolerance, "\(name): worst gradient error \(worst) > \(tolerance)", sourceLocation: sourceLocation)
    return worst
}
