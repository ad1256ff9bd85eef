import Foundation
import Testing
@testable import Tensor

/// softmax(q k^T * scale) v per head in Float64 on explicit indices.
func referenceAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, scale: Double) -> [Double] {
    let (b, sq, c, sk) = (q.shape[0], q.shape[1], q.shape[2], k.shape[1]), d = c / heads
    var out = [Double](repeating: 0, count: b * sq * c)
    for n in 0..<b { for h in 0..<heads { for i in 0..<sq {
        var logits = [Double](repeating: 0, count: sk)
        for j in 0..<sk {
            var dot = 0.0
            for e in 0..<d { dot += Double(q[n, i, h * d + e]) * Double(k[n, j, h * d + e]) }
            logits[j] = dot * scale
        }
        let m = logits.max()!, w = logits.map { exp($0 - m) }, z = w.reduce(0, +)
        for e in 0..<d {
            var acc = 0.0
            for j in 0..<sk { acc += w[j] / z * Double(v[n, j, h * d + e]) }
            out[(n * sq + i) * c + h * d + e] = acc
        }
    } } }
    return out
}

@Suite struct AttentionTests {
    @Test(arguments: [(2, 3, 4, 1, 5), (2, 7, 5, 3, 4), (1, 16, 9, 2, 6)])
    func matchesReference(_ dims: (Int, Int, Int, Int, Int)) {
        let (b, sq, sk, heads, d) = dims
        var rng = TestRNG(UInt64(sq * 31 + sk))
        let q = rng.tensor([b, sq, heads * d], -2, 2), k = rng.tensor([b, sk, heads * d], -2, 2), v = rng.tensor([b, sk, heads * d])
        let out = scaledDotProductAttention(q, k, v, heads: heads)
        let ref = referenceAttention(q, k, v, heads: heads, scale: 1 / Double(d).squareRoot())
        let err = zip(out.toArray(), ref).map { abs(Double($0) - $1) }.max()!
        #expect(err < 1e-5, "attention \(dims): max error \(err)")
    }

    @Test func customScale() {
        var rng = TestRNG(2)
        let q = rng.tensor([1, 3, 4]), k = rng.tensor([1, 5, 4]), v = rng.tensor([1, 5, 4])
        let out = scaledDotProductAttention(q, k, v, heads: 2, scale: 0.3)
        let err = zip(out.toArray(), referenceAttention(q, k, v, heads: 2, scale: 0.3)).map { abs(Double($0) - $1) }.max()!
        #expect(err < 1e-6)
    }

    @Test func gradients() {
        var rng = TestRNG(4)
        let q = rng.tensor([2, 3, 6]), k = rng.tensor([2, 4, 6]), v = rng.tensor([2, 4, 6])
        gradCheck("attention", [q, k, v]) { scaledDotProductAttention($0[0], $0[1], $0[2], heads: 2) }
        // Only v requires a gradient: q and k get none, and v's equals the full case's.
        let full = v.grad!
        let q2 = q.detached(), k2 = k.detached(), v2 = v.detached()
        v2.requiresGrad = true
        (scaledDotProductAttention(q2, k2, v2, heads: 2) * rng.tensor([2, 3, 6])).sum().backward()
        #expect(q2.grad == nil && k2.grad == nil && v2.grad != nil)
        var rng2 = TestRNG(7)
        let w = rng2.tensor([2, 3, 6])
        let v3 = v.detached(); v3.requiresGrad = true
        (scaledDotProductAttention(q2, k2, v3, heads: 2) * w).sum().backward()
        #expect(maxAbsDiff(v3.grad!, full) < 1e-6)
    }

    @Test func badShapesAreNamed() {
        #expect(throws: ShapeError.self) { try checkAttentionShapes([2, 3, 6], [2, 4, 6], [2, 5, 6], heads: 2) }
        do { try checkAttentionShapes([2, 3, 6], [2, 4, 8], [2, 4, 8], heads: 2) } catch {
            #expect("\(error)".contains("[2, 3, 6]") && "\(error)".contains("[2, 4, 8]"))
        }
    }

    @Test func oneAndTwoThreadsGiveIdenticalBits() {
        func run(_ threads: Int) -> [[UInt32]] {
            let saved = Runtime.threads
            Runtime.threads = threads
            defer { Runtime.threads = saved }
            var rng = TestRNG(9)
            let q = rng.tensor([4, 33, 48]), k = rng.tensor([4, 40, 48]), v = rng.tensor([4, 40, 48])
            for t in [q, k, v] { t.requiresGrad = true }
            let out = scaledDotProductAttention(q, k, v, heads: 3)
            (out * rng.tensor(out.shape)).sum().backward()
            return [out, q.grad!, k.grad!, v.grad!].map { $0.toArray().map(\.bitPattern) }
        }
        #expect(run(1) == run(2))
    }
}

@Suite struct RoPETests {
    @Test func frequencyTableMatchesClosedForm() {
        let ids = Tensor(shape: [2, 3], data: [1, 2, 3, 0, 5, 7])
        let (cos, sin) = RoPE.frequencies(ids: ids, axesDim: [2, 4, 6])
        #expect(cos.shape == [2, 12])
        // Axis 1 (dim 4) of token 0 at position 2: channels 2..5, frequencies 1 and 10000^(-1/2).
        #expect(abs(Double(cos[0, 2]) - Foundation.cos(2.0)) < 1e-7 && cos[0, 2] == cos[0, 3])
        #expect(abs(Double(sin[0, 4]) - Foundation.sin(2.0 / 100)) < 1e-7 && sin[0, 4] == sin[0, 5])
        // Axis 2 (dim 6) of token 1 at position 7, j = 2: frequency 10000^(-4/6).
        #expect(abs(Double(sin[1, 10]) - Foundation.sin(7 * Foundation.pow(10000, -4.0 / 6))) < 1e-7)
    }

    @Test func rotatesPairsAndKeepsNorms() {
        var rng = TestRNG(3)
        let ids = Tensor(shape: [4, 3], data: (0..<12).map { Float($0 % 5) })
        let (cos, sin) = RoPE.frequencies(ids: ids, axesDim: [2, 2, 4])
        let x = rng.tensor([2, 4, 16])
        let y = x.applyingRoPE(cos: cos, sin: sin, heads: 2)
        for b in 0..<2 { for t in 0..<4 { for h in 0..<2 { for k in stride(from: 0, to: 8, by: 2) {
            let (a, bb) = (x[b, t, h * 8 + k], x[b, t, h * 8 + k + 1])
            let (c, s) = (cos[t, k], sin[t, k])
            #expect(abs(y[b, t, h * 8 + k] - (a * c - bb * s)) < 1e-6)
            #expect(abs(y[b, t, h * 8 + k + 1] - (bb * c + a * s)) < 1e-6)
            let n0 = a * a + bb * bb, n1 = y[b, t, h * 8 + k] * y[b, t, h * 8 + k] + y[b, t, h * 8 + k + 1] * y[b, t, h * 8 + k + 1]
            #expect(abs(n0 - n1) < 1e-5)
        } } } }
        gradCheck("rope", [x]) { $0[0].applyingRoPE(cos: cos, sin: sin, heads: 2) }
    }
}
