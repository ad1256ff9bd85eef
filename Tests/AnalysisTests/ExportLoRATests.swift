import Foundation
import Testing
import Formats
import Models
import Tensor
import TestSupport
@testable import Analysis

@Suite struct ExportLoRATests {
    func basis() throws -> LoRABasis {
        let p = Parameters.initialising(seed: 9)
        let b = try LoRABasis(p, inFeatures: 20, outFeatures: 14, config: LoRABasisConfig(n: 3, r: 2, keysDim: 4, queryDim: 5, scale: 1.5))
        var rng = RNG(seed: 2)
        let values = rng.normal(b.loraB.shape)
        b.loraB.data.update(from: values.data, count: values.count)   // B starts at zero; give it content
        return b
    }

    /// The torch-layout weight delta s * sum_i alpha_i (A_i B_i)^T [out, in], materialised.
    func dense(_ b: LoRABasis, _ alpha: [Float]) -> Tensor {
        var w = Tensor.zeros([14, 20])
        for i in 0..<3 {
            let a = b.loraA.sliced(axis: 0, i..<(i + 1)).reshaped([20, 2]), bb = b.loraB.sliced(axis: 0, i..<(i + 1)).reshaped([2, 14])
            w = w + a.matmul(bb).transposed() * (alpha[i] * 1.5)
        }
        return w
    }

    @Test func fullRankIsExactAndTruncationReportsItsError() throws {
        let b = try basis()
        let alpha: [Float] = [0.6, 0.3, 0.1]
        let exact = try ExportLoRA.layer("x", basis: b, alpha: alpha, rank: nil)
        #expect(exact.loraA.shape == [6, 20] && exact.loraB.shape == [14, 6] && exact.relativeError == 0)
        let w = dense(b, alpha)
        let rebuilt = exact.loraB.matmul(exact.loraA)
        var worst: Float = 0
        for i in 0..<w.count { worst = max(worst, abs(rebuilt.data[i] - w.data[i])) }
        #expect(worst < 1e-5)

        let cut = try ExportLoRA.layer("x", basis: b, alpha: alpha, rank: 2)
        #expect(cut.loraA.shape == [2, 20] && cut.loraB.shape == [14, 2])
        let approx = cut.loraB.matmul(cut.loraA)
        var err = 0.0, norm = 0.0
        for i in 0..<w.count {
            err += Double((approx.data[i] - w.data[i]) * (approx.data[i] - w.data[i]))
            norm += Double(w.data[i] * w.data[i])
        }
        #expect(abs((err / norm).squareRoot() - Double(cut.relativeError)) < 1e-4)
        #expect(cut.relativeError > 0)
    }

    @Test func writesPEFTKeys() throws {
        let b = try basis()
        let layer = try ExportLoRA.layer("transformer_blocks.0.attn.to_q", basis: b, alpha: [1, 0, 0], rank: nil)
        let path = scratchPath("lora") + ".safetensors"
        try ExportLoRA.write([layer], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.names == ["transformer.transformer_blocks.0.attn.to_q.lora_A.weight", "transformer.transformer_blocks.0.attn.to_q.lora_B.weight"])
    }
}
