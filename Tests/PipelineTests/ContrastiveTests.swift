import Foundation
import Testing
import Formats
import Tensor
@testable import Pipeline
import TestSupport

@Suite struct ContrastiveTests {
    /// Reference NT-Xent in Float64 on explicit loops.
    func reference(_ z: Tensor, _ t: Double) -> Double {
        let (m, e) = (z.shape[0], z.shape[1]), n = m / 2
        let rows = (0..<m).map { i -> [Double] in
            let r = (0..<e).map { Double(z[i, $0]) }
            let norm = r.map { $0 * $0 }.reduce(0, +).squareRoot()
            return r.map { $0 / norm }
        }
        var total = 0.0
        for i in 0..<m {
            let sims = (0..<m).map { j in zip(rows[i], rows[j]).map(*).reduce(0, +) / t }
            let denom = (0..<m).filter { $0 != i }.map { exp(sims[$0]) }.reduce(0, +)
            total += -(sims[(i + n) % m] - log(denom))
        }
        return total / Double(m)
    }

    @Test func ntXentMatchesReferenceAndPrefersAlignedViews() {
        var rng = RNG(seed: 5)
        let z = rng.normal([8, 6])
        let loss = Contrastive.ntXent(z, temperature: 0.5).item()
        #expect(abs(Double(loss) - reference(z, 0.5)) < 1e-4)
        let base = rng.normal([4, 6])
        let aligned = Tensor.concat([base, base * 1.5], axis: 0)   // positives point the same way
        #expect(Contrastive.ntXent(aligned, temperature: 0.5).item() < loss)
    }

    @Test func ntXentGradientMatchesFiniteDifferences() {
        var rng = RNG(seed: 6)
        let z = rng.normal([6, 4])
        z.requiresGrad = true
        Contrastive.ntXent(z, temperature: 0.5).backward()
        let g = z.grad!
        let eps: Float = 1e-2
        var worst = 0.0
        for i in 0..<z.count {
            let saved = z.data[i]
            z.data[i] = saved + eps
            let plus = reference(z, 0.5)
            z.data[i] = saved - eps
            let minus = reference(z, 0.5)
            z.data[i] = saved
            worst = max(worst, abs((plus - minus) / Double(2 * eps) - Double(g.data[i])))
        }
        #expect(worst < 1e-3, "NT-Xent gradient error \(worst)")
    }

    @Test func augmentationIsDeterministicAndKeepsColour() {
        let image = Image(width: 8, height: 8, color: [200, 30, 90])
        var r1 = RNG(seed: 1), r2 = RNG(seed: 1)
        let v1 = Contrastive.augment(image, rng: &r1), v2 = Contrastive.augment(image, rng: &r2)
        #expect(v1 == v2 && v1 != image)
        #expect(zip(v1.pixels, image.pixels).allSatisfy { abs(Int($0) - Int($1)) <= 6 })
    }
}
