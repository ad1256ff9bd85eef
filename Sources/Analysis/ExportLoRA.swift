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

    /// The PEFT `LoraConfig` of `layers`, as PEFT's `adapter_config.json` and diffusers'
    /// `lora_adapter_metadata` spell it. The exported factors carry every scale, so alpha equals
    /// the rank (scale 1); `r` is the rank the tensors have, whatever rank was asked for.
    public static func loraConfig(_ layers: [ExportedLayer], baseModel: String?) -> [String: Any] {
        let ranks = layers.map { $0.loraA.shape[0] }
        let common = ranks.first ?? 0
        let pattern = Dictionary(uniqueKeysWithValues: zip(layers, ranks).filter { $1 != common }.map { ($0.key, $1) })
        var config: [String: Any] = [
            "peft_type": "LORA", "task_type": NSNull(), "r": common, "lora_alpha": common,
            "target_modules": layers.map(\.key).sorted(), "rank_pattern": pattern, "alpha_pattern": pattern,
            "lora_dropout": 0.0, "bias": "none", "init_lora_weights": true, "use_dora": false,
        ]
        if let baseModel { config["base_model_name_or_path"] = baseModel }
        return config
    }

    /// The rank the tensors of `layers` have (the largest, should layers differ).
    public static func rank(of layers: [ExportedLayer]) -> Int { layers.map { $0.loraA.shape[0] }.max() ?? 0 }

    /// Writes the layers as one diffusers LoRA safetensors file (atomically): keys prefixed
    /// `transformer.` and the LoraConfig in `lora_adapter_metadata` with the same prefix, which is
    /// how `save_lora_weights` writes it and what `load_lora_weights` / `load_lora_adapter` read.
    public static func write(_ layers: [ExportedLayer], to path: String, dtype: SafetensorsDType = .f32,
                             metadata: [String: String] = [:], baseModel: String? = nil) throws {
        let config = Dictionary(uniqueKeysWithValues: loraConfig(layers, baseModel: baseModel).map { ("transformer." + $0.key, $0.value) })
        var meta = metadata
        meta["lora_adapter_metadata"] = try json(config, path: path)
        try write(layers, prefix: "transformer.", to: path, dtype: dtype, metadata: meta)
    }

    /// Writes the layers as a PEFT adapter folder (`PeftModel.from_pretrained` on the base
    /// transformer loads it): `adapter_model.safetensors` with PEFT's `base_model.model.` keys and
    /// `adapter_config.json`.
    public static func writePEFT(_ layers: [ExportedLayer], to folder: String, dtype: SafetensorsDType = .f32,
                                 metadata: [String: String] = [:], baseModel: String? = nil) throws {
        try AtomicFile.createFolder(folder)
        try write(layers, prefix: "base_model.model.", to: folder + "/" + peftWeightsFile, dtype: dtype, metadata: metadata)
        try JSONFile.write(object: loraConfig(layers, baseModel: baseModel), to: folder + "/" + peftConfigFile)
    }

    public static let peftWeightsFile = "adapter_model.safetensors", peftConfigFile = "adapter_config.json"

    static func write(_ layers: [ExportedLayer], prefix: String, to path: String, dtype: SafetensorsDType, metadata: [String: String]) throws {
        var tensors: [(String, Tensor)] = []
        for l in layers {
            tensors.append(("\(prefix)\(l.key).lora_A.weight", l.loraA))
            tensors.append(("\(prefix)\(l.key).lora_B.weight", l.loraB))
        }
        try Safetensors.write(tensors, dtype: dtype, metadata: metadata.merging(["format": "pt"]) { a, _ in a }, to: path)
    }

    /// `object` as one line of JSON with sorted keys, for a safetensors metadata value.
    public static func json(_ object: Any, path: String) throws -> String {
        guard JSONSerialization.isValidJSONObject(object),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            throw FormatError(path, "cannot encode the LoRA metadata as JSON (a non-finite number?)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
