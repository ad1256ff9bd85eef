import Foundation
import Formats
import Models
import Tensor

// Baking the mixed LoRA of one analogy into an ordinary LoRA file that diffusers / PEFT load:
// per adapted layer `transformer.<layer>.lora_A.weight` [k, in] and `lora_B.weight` [out, k]
// with weight += lora_B @ lora_A (no alpha keys: scale 1). At k = n r the export is exact:
// lora_A = (s A diag(alpha (x) 1_r))^T, lora_B = B^T. With a smaller rank K it is the best rank-K
// approximation (truncated SVD from the thin factors), and each layer's relative Frobenius error
// sqrt(sum_{j > K} s_j^2 / sum_j s_j^2) is reported.

public struct ExportedLayer {
    public let key: String
    public let loraA: Tensor, loraB: Tensor
    public let relativeError: Float
}

public enum ExportLoRA {
    /// One layer's exported factors for coefficients `alpha` [n], exact when `rank` is nil or >= n r.
    public static func layer(_ key: String, basis: LoRABasis, alpha: [Float], rank: Int?) throws -> ExportedLayer {
        let c = basis.config, k = c.n * c.r, inF = basis.loraA.shape[1], outF = basis.loraB.shape[2]
        guard let rank, rank < k else {
            let channel = Tensor(shape: [1, k], data: alpha.flatMap { [Float](repeating: $0 * c.scale, count: c.r) })
            let a = withNoGrad { (basis.loraA.permuted([1, 0, 2]).reshaped([inF, k]) * channel).transposed() }   // [k, in]
            let b = withNoGrad { basis.loraB.reshaped([k, outF]).transposed() }                                     // [out, k]
            return ExportedLayer(key: key, loraA: a, loraB: b, relativeError: 0)
        }
        precondition(rank >= 1, "export rank must be at least 1")
        let f = try LayerFactors(basis)
        let (u, s, v) = try f.singularVectors(alpha, count: rank)          // Delta W [in, out] = U S V^T
        let all = try f.singularValues(alpha).toArray().map { Double($0) * Double($0) }
        let total = all.reduce(0, +), kept = all.prefix(rank).reduce(0, +)
        let root = s.sqrt().reshaped([1, rank])
        // The torch weight delta is Delta W^T = (V sqrt S)(sqrt S U^T).
        let (a, b) = withNoGrad { ((u * root).transposed(), v * root) }
        return ExportedLayer(key: key, loraA: a, loraB: b, relativeError: total > 0 ? Float(((total - kept) / total).squareRoot()) : 0)
    }

    /// Writes the layers as a PEFT/diffusers LoRA safetensors file (atomically).
    public static func write(_ layers: [ExportedLayer], to path: String, metadata: [String: String] = [:]) throws {
        var tensors: [(String, Tensor)] = []
        for l in layers {
            tensors.append(("transformer.\(l.key).lora_A.weight", l.loraA))
            tensors.append(("transformer.\(l.key).lora_B.weight", l.loraB))
        }
        try Safetensors.write(tensors, dtype: .f32, metadata: metadata.merging(["format": "pt"]) { a, _ in a }, to: path)
    }
}
