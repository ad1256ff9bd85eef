import Foundation
import Testing
import Models
import Tensor
@testable import Analysis
import TestSupport

// The thin-factor quantities against brute force on materialised weights.

@Suite struct LoRASpectrumTests {
    let n = 5, inF = 23, r = 3, outF = 17

    func basis(seed: UInt64) -> (Tensor, Tensor) {
        var rng = RNG(seed: seed)
        return (rng.normal([n, inF, r]), rng.normal([n, r, outF]))
    }

    /// s * sum_i alpha_i A_i B_i [I, O], materialised.
    func dense(_ a: Tensor, _ b: Tensor, _ alpha: [Float], scale: Float) -> Tensor {
        var w = Tensor.zeros([inF, outF])
        for i in 0..<n {
            let ai = a.sliced(axis: 0, i..<(i + 1)).reshaped([inF, r]), bi = b.sliced(axis: 0, i..<(i + 1)).reshaped([r, outF])
            w = w + ai.matmul(bi) * (alpha[i] * scale)
        }
        return w
    }

    @Test func thinSpectrumEqualsDenseSVD() throws {
        let (a, b) = basis(seed: 1)
        let f = try LayerFactors(loraA: a, loraB: b, scale: 0.5)
        for alpha: [Float] in [[0.2, 0.2, 0.2, 0.2, 0.2], [0, 1, 0, 0, 0], [0.5, -0.1, 0.3, 0.9, 0.05]] {
            let thin = try f.singularValues(alpha).toArray()
            let full = try Linalg.svd(dense(a, b, alpha, scale: 0.5), computeVectors: false).s.toArray()
            let scaleRef = full.max()!
            for (t, d) in zip(thin, full) { #expect(abs(t - d) <= 1e-4 * scaleRef, "thin \(t) vs dense \(d)") }
            // The top vectors reproduce Delta W when all k are kept.
            let (u, s, v) = try f.singularVectors(alpha, count: f.k)
            let rebuilt = (u * s.reshaped([1, -1])).matmul(v, transposeB: true)
            let w = dense(a, b, alpha, scale: 0.5)
            var worst: Float = 0
            for i in 0..<w.count { worst = max(worst, abs(rebuilt.data[i] - w.data[i])) }
            #expect(worst <= 1e-4 * scaleRef)
        }
    }

    @Test func gramIsTheFrobeniusInnerProduct() throws {
        let (a, b) = basis(seed: 2)
        let g = try LayerFactors(loraA: a, loraB: b, scale: 1).gram()
        for i in 0..<n { for j in 0..<n {
            var e = [Float](repeating: 0, count: n), f = e
            e[i] = 1; f[j] = 1
            let wi = dense(a, b, e, scale: 1), wj = dense(a, b, f, scale: 1)
            var dot: Double = 0
            for t in 0..<wi.count { dot += Double(wi.data[t]) * Double(wj.data[t]) }
            #expect(abs(Double(g[i, j]) - dot) <= 1e-4 * max(1, abs(dot)), "G[\(i),\(j)] \(g[i, j]) vs \(dot)")
        } }
    }

    @Test func elementSpectraAndKeySimilarity() throws {
        let (a, b) = basis(seed: 3)
        let spectra = try LayerFactors(loraA: a, loraB: b, scale: 2).elementSpectra()
        #expect(spectra.shape == [n, r])
        var e = [Float](repeating: 0, count: n)
        e[2] = 1
        let ref = try Linalg.svd(dense(a, b, e, scale: 1), computeVectors: false).s.toArray()
        for j in 0..<r { #expect(abs(spectra[2, j] - ref[j]) <= 1e-4 * ref[0]) }

        let keys = Tensor(shape: [3, 2], data: [1, 0, 0, 2, 3, 3])
        let sim = keySimilarity(keys)
        #expect(abs(sim[0, 1]) < 1e-6 && abs(sim[1, 1] - 1) < 1e-6 && abs(sim[0, 2] - Float(1 / 2.0.squareRoot())) < 1e-6)
    }
}
