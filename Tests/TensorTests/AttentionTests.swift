import Foundation
import Testing
@testable import Tensor
import TestSupport

/// softmax(scale Q K^T) V per batch row and head, by plain loops in Float64.
private func referenceAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, scale: Double) -> [Double] {
    let (batch, sq, sk, width) = (q.shape[0], q.shape[1], k.shape[1], q.shape[2])
    let d = width / heads
    var out = [Double](repeating: 0, count: q.count)
    var p = [Double](repeating: 0, count: sk)
    for b in 0..<batch {
        for h in 0..<heads {
            for i in 0..<sq {
                for j in 0..<sk {
                    var dot = 0.0
                    for c in 0..<d {
                        dot += Double(q.data[(b * sq + i) * width + h * d + c]) * Double(k.data[(b * sk + j) * width + h * d + c])
                    }
                    p[j] = scale * dot
                }
                let m = p.max()!
                var z = 0.0
                for j in 0..<sk { p[j] = exp(p[j] - m); z += p[j] }
                for c in 0..<d {
                    var acc = 0.0
                    for j in 0..<sk { acc += p[j] / z * Double(v.data[(b * sk + j) * width + h * d + c]) }
                    out[(b * sq + i) * width + h * d + c] = acc
                }
            }
        }
    }
    return out
}

/// Largest |out - ref| / max(1, |ref|); infinite when `out` holds a NaN (which `max` would skip).
private func maxRelativeError(_ out: Tensor, _ ref: [Double]) -> Double {
    var worst = 0.0
    for i in 0..<ref.count {
        let err = abs(Double(out.data[i]) - ref[i]) / max(1, abs(ref[i]))
        if err.isNaN { return .infinity }
        worst = max(worst, err)
    }
    return worst
}

/// Whether a tensor exists and holds no NaN or infinity (used by the RoPE tests too).
func allFinite(_ t: Tensor?) -> Bool {
    guard let t else { return false }
    return t.toArray().allSatisfy(\.isFinite)
}

/// Random q [B, Sq, H*D], k and v [B, Sk, H*D].
private func randomQKV(_ rng: inout TestRNG, batch: Int, sq: Int, sk: Int, heads: Int, d: Int, range: Float = 1) -> (Tensor, Tensor, Tensor) {
    (rng.tensor([batch, sq, heads * d], -range, range), rng.tensor([batch, sk, heads * d], -range, range),
     rng.tensor([batch, sk, heads * d], -range, range))
}

/// Gradients of sum(attention * w) for fresh copies of q, k, v where `mask` says which require them.
private func attentionGrads(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, mask: [Bool], weight: Tensor) -> [Tensor?] {
    let inputs = [q.copy(), k.copy(), v.copy()]
    for (x, on) in zip(inputs, mask) { x.requiresGrad = on }
    (scaledDotProductAttention(inputs[0], inputs[1], inputs[2], heads: heads) * weight).sum().backward()
    return inputs.map(\.grad)
}

// Serialized: the determinism test changes `Runtime.threads`, which the other tests read.
@Suite(.serialized) struct AttentionTests {
    @Test func matchesReferenceLoop() {
        var rng = TestRNG(11)
        // (B, Sq, Sk, H, D, scale): Sq != Sk both ways, one head and several, odd head dims, a
        // single query, and Sq past one row tile (192) so the tile boundary is crossed.
        let cases: [(Int, Int, Int, Int, Int, Float?)] = [
            (2, 5, 7, 1, 3, nil), (2, 7, 5, 3, 6, nil), (1, 1, 4, 3, 5, nil),
            (2, 197, 9, 3, 4, nil), (2, 6, 6, 2, 7, 0.9),
        ]
        for (batch, sq, sk, heads, d, scale) in cases {
            // Range 2 so that the default-scaled scores span several units and the softmax is peaked.
            let (q, k, v) = randomQKV(&rng, batch: batch, sq: sq, sk: sk, heads: heads, d: d, range: 2)
            let out = scaledDotProductAttention(q, k, v, heads: heads, scale: scale)
            let ref = referenceAttention(q, k, v, heads: heads, scale: Double(scale ?? 1 / Float(d).squareRoot()))
            #expect(out.shape == q.shape)
            let worst = maxRelativeError(out, ref)
            #expect(worst <= 1e-5, "B\(batch) Sq\(sq) Sk\(sk) H\(heads) D\(d): max relative error \(worst)")
        }
    }

    @Test func largeScoresStayFinite() {
        // Scores around +-400: a softmax without the max shift overflows exp to inf (NaN output).
        var rng = TestRNG(12)
        let (q, k, v) = randomQKV(&rng, batch: 1, sq: 4, sk: 5, heads: 1, d: 4, range: 10)
        let out = scaledDotProductAttention(q, k, v, heads: 1, scale: 4)
        let ref = referenceAttention(q, k, v, heads: 1, scale: 4)
        let worst = maxRelativeError(out, ref)
        #expect(worst <= 1e-5, "max relative error \(worst)")
    }

    @Test func gradientsMatchFiniteDifferences() {
        var rng = TestRNG(13)
        let (q, k, v) = randomQKV(&rng, batch: 2, sq: 3, sk: 4, heads: 2, d: 3)
        gradCheck("attention q, k, v", [q, k, v], tolerance: 1e-3) { xs in
            scaledDotProductAttention(xs[0], xs[1], xs[2], heads: 2)
        }
        // Two row tiles per head: dK and dV accumulate over tiles.
        let (q2, k2, v2) = randomQKV(&rng, batch: 1, sq: 194, sk: 3, heads: 1, d: 2)
        gradCheck("attention across row tiles", [q2, k2, v2], tolerance: 1e-3) { xs in
            scaledDotProductAttention(xs[0], xs[1], xs[2], heads: 1, scale: 0.7)
        }
        // gradCheck's running max skips NaN, so check finiteness separately.
        for x in [q, k, v, q2, k2, v2] { #expect(allFinite(x.grad)) }
    }

    @Test func partialGradientsEqualFullOnes() {
        var rng = TestRNG(14)
        let (q, k, v) = randomQKV(&rng, batch: 2, sq: 3, sk: 4, heads: 2, d: 3)
        let w = rng.tensor(q.shape)
        let full = attentionGrads(q, k, v, heads: 2, mask: [true, true, true], weight: w)
        for mask in [[false, false, true], [true, false, false], [false, true, false], [true, true, false], [false, true, true]] {
            let partial = attentionGrads(q, k, v, heads: 2, mask: mask, weight: w)
            for i in 0..<3 {
                if mask[i] {
                    guard let g = partial[i], let f = full[i] else {
                        Issue.record("mask \(mask): input \(i) received no gradient")
                        continue
                    }
                    let same = zip(g.toArray(), f.toArray()).allSatisfy { $0.bitPattern == $1.bitPattern }
                    #expect(same, "mask \(mask): input \(i) differs from the full case by \(maxAbsDiff(g, f))")
                } else {
                    #expect(partial[i] == nil, "mask \(mask): input \(i) should receive no gradient")
                }
            }
        }
    }

    @Test func bitIdenticalAcrossThreadCounts() {
        var rng = TestRNG(15)
        // Several units of work per thread in both passes (B*H = 6 pairs, two row tiles each).
        let (q, k, v) = randomQKV(&rng, batch: 2, sq: 150, sk: 70, heads: 3, d: 8)
        let w = rng.tensor(q.shape)
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        func run(threads: Int) -> [[Float]] {
            Runtime.threads = threads
            let out = withNoGrad { scaledDotProductAttention(q, k, v, heads: 3) }
            return [out.toArray()] + attentionGrads(q, k, v, heads: 3, mask: [true, true, true], weight: w).map { $0!.toArray() }
        }
        let one = run(threads: 1), two = run(threads: 2)
        for (name, a, b) in zip3(["out", "dq", "dk", "dv"], one, two) {
            let differing = zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(name): \(differing) of \(a.count) values differ between 1 and 2 threads")
        }
    }

    @Test func shapeCheckNamesTheShapes() throws {
        let dims = try Shape.attention(q: [2, 5, 12], k: [2, 7, 12], v: [2, 7, 12], heads: 3)
        #expect(dims == (2, 5, 7, 4))
        let bad: [([Int], [Int], [Int], Int)] = [
            ([2, 5, 12], [2, 7, 12], [2, 6, 12], 3),  // k and v lengths differ
            ([2, 5, 12], [3, 7, 12], [3, 7, 12], 3),  // batch
            ([2, 5, 12], [2, 7, 9], [2, 7, 9], 3),  // widths
            ([2, 5, 12], [2, 7, 12], [2, 7, 12], 5),  // heads do not divide the width
            ([5, 12], [7, 12], [7, 12], 3),  // rank
            ([2, 5, 12], [2, 0, 12], [2, 0, 12], 3),  // no keys
        ]
        for (q, k, v, heads) in bad {
            do {
                _ = try Shape.attention(q: q, k: k, v: v, heads: heads)
                Issue.record("no error for q \(q), k \(k), v \(v), heads \(heads)")
            } catch let error as ShapeError {
                for shape in [q, k, v] {
                    #expect(error.description.contains("\(shape)"), "message does not name \(shape): \(error)")
                }
            }
        }
    }
}

private func zip3<A, B, C>(_ a: [A], _ b: [B], _ c: [C]) -> [(A, B, C)] {
    zip(a, zip(b, c)).map { ($0, $1.0, $1.1) }
}
