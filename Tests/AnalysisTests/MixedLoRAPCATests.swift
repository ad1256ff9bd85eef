import Foundation
import Testing
@testable import Analysis
import Tensor
import TestSupport

// PCA in coefficient space under the Gram metric must equal PCA of the materialised, vectorised
// mixed LoRAs: same variances, same scores (both with the same sign rule).

@Test func gramMetricPCAEqualsPCAOfMaterialisedDeltaW() throws {
    var rng = RNG(seed: 7)
    let (t, n, r, inF, outF, layers) = (9, 3, 2, 8, 7, 2)
    let scale: Float = 0.5
    let bases = (0..<layers).map { _ in (rng.normal([n, inF, r]), rng.normal([n, r, outF])) }
    let coefficients = withNoGrad { rng.normal([t, layers, n]).softmax() }       // rows like the model's
    let grams = try bases.map { try LayerFactors(loraA: $0.0, loraB: $0.1, scale: scale).gram() }
    let result = try MixedLoRAPCA.analyse(coefficients: coefficients, grams: grams, scale: scale, components: 4)

    // Brute force: Delta W_t = s sum_i alpha_ti A_i B_i, flattened, layers side by side.
    let c = coefficients.toArray()
    var rows: [[Float]] = Array(repeating: [], count: t)
    var perLayer: [Tensor] = []
    for (l, (a, b)) in bases.enumerated() {
        var layerRows: [Float] = []
        for i in 0..<t {
            var w = Tensor.zeros([inF, outF])
            for j in 0..<n {
                let aj = a.sliced(axis: 0, j..<(j + 1)).reshaped([inF, r]), bj = b.sliced(axis: 0, j..<(j + 1)).reshaped([r, outF])
                w = withNoGrad { w + aj.matmul(bj) * (scale * c[(i * layers + l) * n + j]) }
            }
            rows[i] += w.toArray()
            layerRows += w.toArray()
        }
        perLayer.append(Tensor(shape: [t, inF * outF], data: layerRows))
    }
    let dense = try MixedLoRAPCA.pca(Tensor(shape: [t, layers * inF * outF], data: rows.flatMap { $0 }), components: 4)

    let top = dense.variance[0]
    for k in 0..<4 { #expect(abs(result.pooled.variance[k] - dense.variance[k]) <= 1e-4 * top, "component \(k)") }
    let (s1, s2) = (result.pooled.scores.toArray(), dense.scores.toArray())
    let scoreScale = s2.map(abs).max()!
    #expect(zip(s1, s2).allSatisfy { abs($0 - $1) <= 1e-3 * scoreScale })
    for l in 0..<layers {
        let d = try MixedLoRAPCA.pca(perLayer[l], components: 2)
        for k in 0..<n { #expect(abs(Double(result.layerVariance[l, k]) - d.variance[k]) <= 1e-4 * d.variance[0]) }
    }
    // Raw coefficients: plain PCA of the flattened [T, L n].
    let raw = try MixedLoRAPCA.pca(coefficients.reshaped([t, layers * n]), components: 4)
    #expect(raw.variance == result.raw.variance)
    #expect(abs(result.pooled.explainedRatio.reduce(0, +) - 1) < 1e-9)
}

@Test func interpolationEndpointsAreTheAnalogiesAndTheStepsLinear() {
    let from = Tensor(shape: [2, 3], data: [0.2, 0.3, 0.5, 1, 0, 0])
    let to = Tensor(shape: [2, 3], data: [0.6, 0.2, 0.2, 0, 0, 1])
    let path = Interpolation.linear(from, to, steps: 5)
    #expect(path.shape == [5, 2, 3])
    #expect(path.sliced(axis: 0, 0..<1).toArray() == from.toArray())
    #expect(path.sliced(axis: 0, 4..<5).toArray() == to.toArray())
    let mid = path.sliced(axis: 0, 2..<3).toArray()
    #expect(zip(mid, zip(from.toArray(), to.toArray())).allSatisfy { abs($0 - ($1.0 + $1.1) / 2) < 1e-6 })
    #expect(Interpolation.times(3) == [0, 0.5, 1])
}
