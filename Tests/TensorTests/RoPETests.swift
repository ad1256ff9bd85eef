import Foundation
import Testing
@testable import Tensor
import TestSupport

/// Integer positions [S, 3] in 0..<limit, as Flux's image/text ids.
private func randomIds(_ rng: inout TestRNG, tokens: Int, limit: Int) -> Tensor {
    Tensor(shape: [tokens, 3], data: (0..<tokens * 3).map { _ in Float(rng.next() % UInt64(limit)) })
}

struct RoPETests {
    @Test func frequenciesMatchClosedForm() {
        // Positions up to 4095: an angle computed in Float would be off by ~1e-4 there.
        let ids = Tensor(shape: [4, 3], data: [0, 0, 0, 1, 3, 5, 1, 4095, 17, 0, 2.5, 4000])
        let axesDim = [4, 6, 8]
        for theta in [10000.0, 100.0] {
            let (cos, sin) = RoPE.frequencies(ids: ids, axesDim: axesDim, theta: theta)
            #expect(cos.shape == [4, 18] && sin.shape == [4, 18])
            #expect(allFinite(cos) && allFinite(sin))
            var worst = 0.0, column = 0
            for (axis, d) in axesDim.enumerated() {
                for c in 0..<d {
                    let freq = 1 / pow(theta, Double(2 * (c / 2)) / Double(d))
                    for s in 0..<4 {
                        let angle = Double(ids[s, axis]) * freq
                        worst = max(worst, abs(Double(cos[s, column]) - Foundation.cos(angle)),
                                    abs(Double(sin[s, column]) - Foundation.sin(angle)))
                    }
                    column += 1
                }
            }
            #expect(worst <= 1e-7, "theta \(theta): max error \(worst)")
        }
        // Spot values: axis 0 of token 1 sits at position 1, its second pair at frequency
        // 10000^(-2/4) = 0.01; axis 1 of token 2 at position 4095, its first pair at frequency 1.
        let (cos, sin) = RoPE.frequencies(ids: ids, axesDim: axesDim)
        #expect(abs(cos[1, 0] - 0.540302306) < 1e-7 && abs(sin[1, 1] - 0.841470985) < 1e-7)
        #expect(abs(cos[1, 2] - 0.999950000) < 1e-7 && abs(sin[1, 3] - 0.009999833) < 1e-7)
        #expect(abs(cos[2, 4] - Float(Foundation.cos(4095.0))) < 1e-7)
    }

    @Test func applyMatchesReferenceLoop() {
        var rng = TestRNG(21)
        let (batch, s, heads, d) = (2, 5, 3, 8)
        let x = rng.tensor([batch, s, heads * d])
        // Independent random tables (not pair-repeated), so every index of the formula is exercised.
        let cos = rng.tensor([s, d]), sin = rng.tensor([s, d])
        let out = x.applyingRoPE(cos: cos, sin: sin, heads: heads)
        var worst = 0.0
        for b in 0..<batch {
            for t in 0..<s {
                for h in 0..<heads {
                    for k in stride(from: 0, to: d, by: 2) {
                        let i = (b * s + t) * heads * d + h * d + k
                        let x0 = Double(x.data[i]), x1 = Double(x.data[i + 1])
                        let c0 = Double(cos[t, k]), c1 = Double(cos[t, k + 1]), s0 = Double(sin[t, k]), s1 = Double(sin[t, k + 1])
                        worst = max(worst, abs(Double(out.data[i]) - (x0 * c0 - x1 * s0)),
                                    abs(Double(out.data[i + 1]) - (x1 * c1 + x0 * s1)))
                    }
                }
            }
        }
        #expect(allFinite(out))
        #expect(worst <= 1e-6, "max error \(worst)")
    }

    @Test func gradientMatchesFiniteDifferences() {
        var rng = TestRNG(22)
        let x = rng.tensor([2, 3, 2 * 6])
        // Random tables: the backward must read sin[2k] and sin[2k+1] exactly where the forward does.
        let cos = rng.tensor([3, 6]), sin = rng.tensor([3, 6])
        gradCheck("rope", [x], tolerance: 1e-3) { xs in xs[0].applyingRoPE(cos: cos, sin: sin, heads: 2) }
        #expect(allFinite(x.grad))
        #expect(cos.grad == nil && sin.grad == nil)
    }

    @Test func rotationPreservesPairNorms() {
        var rng = TestRNG(23)
        let (s, heads) = (6, 2)
        let (cos, sin) = RoPE.frequencies(ids: randomIds(&rng, tokens: s, limit: 64), axesDim: [2, 4, 4])
        let x = rng.tensor([2, s, heads * 10])
        let out = x.applyingRoPE(cos: cos, sin: sin, heads: heads)
        var worst: Float = 0
        for i in stride(from: 0, to: x.count, by: 2) {
            let before = (x.data[i] * x.data[i] + x.data[i + 1] * x.data[i + 1]).squareRoot()
            let after = (out.data[i] * out.data[i] + out.data[i + 1] * out.data[i + 1]).squareRoot()
            worst = max(worst, abs(after - before))
        }
        #expect(maxAbsDiff(out, x) > 0.1, "the rotation should move the vectors")
        #expect(allFinite(out))
        #expect(worst <= 1e-6, "max pair norm change \(worst)")
    }

    @Test func attentionSeesOnlyRelativePositions() {
        // Rotated q_i . k_j depends on pos_i - pos_j alone (per axis), so shifting every token's
        // position by the same offset leaves the attention output unchanged.
        var rng = TestRNG(24)
        let (s, heads, axesDim) = (7, 2, [4, 6, 6])
        let d = axesDim.reduce(0, +)
        let q = rng.tensor([1, s, heads * d], -2, 2), k = rng.tensor([1, s, heads * d], -2, 2), v = rng.tensor([1, s, heads * d])
        let ids = randomIds(&rng, tokens: s, limit: 32)
        let shifted = ids + Tensor(shape: [3], data: [1, 40, 23])
        func attend(_ ids: Tensor) -> Tensor {
            let (cos, sin) = RoPE.frequencies(ids: ids, axesDim: axesDim)
            return scaledDotProductAttention(q.applyingRoPE(cos: cos, sin: sin, heads: heads),
                                             k.applyingRoPE(cos: cos, sin: sin, heads: heads), v, heads: heads)
        }
        let a = attend(ids), b = attend(shifted)
        let unrotated = scaledDotProductAttention(q, k, v, heads: heads)
        #expect(maxAbsDiff(a, unrotated) > 1e-2, "positions should change the attention pattern")
        #expect(allFinite(a))
        #expect(maxAbsDiff(a, b) <= 1e-5, "shift changed the output by \(maxAbsDiff(a, b))")
    }

    @Test func shapeCheckNamesTheShapes() throws {
        try Shape.rope(x: [2, 5, 24], cos: [5, 8], sin: [5, 8], heads: 3)
        let bad: [([Int], [Int], [Int], Int)] = [
            ([2, 5, 24], [5, 8], [5, 6], 3),  // cos and sin differ
            ([2, 5, 24], [5, 8], [5, 8], 2),  // width is not heads * D
            ([2, 4, 24], [5, 8], [5, 8], 3),  // sequence lengths
            ([2, 5, 21], [5, 7], [5, 7], 3),  // odd head dimension
            ([5, 24], [5, 8], [5, 8], 3),  // rank
        ]
        for (x, cos, sin, heads) in bad {
            do {
                try Shape.rope(x: x, cos: cos, sin: sin, heads: heads)
                Issue.record("no error for x \(x), cos \(cos), sin \(sin), heads \(heads)")
            } catch let error as ShapeError {
                for shape in [x, cos, sin] {
                    #expect(error.description.contains("\(shape)"), "message does not name \(shape): \(error)")
                }
            }
        }
    }
}
