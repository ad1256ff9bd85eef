import Foundation
import Formats
import Tensor

// The full set of LoRA-basis adapters on a Flux transformer, keyed as the release saves them:
// `transformer.<diffusers layer key>.{lora_A, lora_B, lora_keys, att_lora_to_q.weight}`.

public final class LoRWeBAdapters {
    public let config: LoRABasisConfig
    /// (diffusers layer key, adapter), in block order.
    public let layers: [(key: String, adapter: LoRABasis)]

    /// Creates (or loads, depending on `p`) one basis per adaptable Linear and attaches it:
    /// every Linear inside the blocks (the release's set), or only the diffusers keys in `only`.
    public init(_ p: Parameters, attachingTo model: FluxTransformer, config: LoRABasisConfig, only: Set<String>? = nil) throws {
        self.config = config
        let root = p.scoped("transformer")
        var targets = model.adaptableLinears
        if let only {
            let unknown = only.subtracting(targets.map(\.key))
            guard unknown.isEmpty else {
                throw LoadError("no adaptable layer named \(unknown.sorted().prefix(3).joined(separator: ", ")) (keys look like transformer_blocks.0.attn.to_q)")
            }
            targets = targets.filter { only.contains($0.key) }
        }
        layers = try targets.map { key, linear in
            let adapter = try LoRABasis(root.scoped(key), inFeatures: linear.inFeatures, outFeatures: linear.outFeatures, config: config)
            linear.adapter = adapter
            return (key, adapter)
        }
    }

    /// Adapters without a base model (what analysis needs): one basis per layer the source holds,
    /// in/out features read off the shapes, layers in block order.
    public init(_ p: Parameters, layersIn source: ReleaseAdapterKeys, config: LoRABasisConfig) throws {
        self.config = config
        let root = p.scoped("transformer")
        layers = try source.layerKeys.map { key in
            let a = source.shape(of: "transformer.\(key).lora_A")!, b = source.shape(of: "transformer.\(key).lora_B") ?? []
            guard a.count == 3, b.count == 3 else {
                throw LoadError("transformer.\(key): lora_A \(a) / lora_B \(b) are not [n, in, r] / [n, r, out]")
            }
            return (key, try LoRABasis(root.scoped(key), inFeatures: a[1], outFeatures: b[2], config: config))
        }
    }

    /// The authors' released adapter file with its ai-toolkit config.yaml (default: `config.yaml`
    /// beside the file), translated by `LoRABasisConfig.release`.
    public static func loadRelease(_ path: String, config configPath: String? = nil) throws -> LoRWeBAdapters {
        let source = ReleaseAdapterKeys(try SafetensorsFile(path: path))
        let yamlPath = AdapterFile.releaseConfigPath(of: path, given: configPath)
        let config = try LoRABasisConfig.release(shapes: try source.shapes(), yaml: try LoRWeBAdapterConfig.load(yamlPath), yamlPath: yamlPath,
                                                 file: path, sizesAgree: true).config
        do {
            return try Parameters.load(from: source) { try LoRWeBAdapters($0, layersIn: source, config: config) }
        } catch let error as LoadError {
            throw FormatError(path, error.description)
        }
    }

    /// Every layer's coefficients [B, layers, n] for queries [B, qdim], layers in `self.layers` order.
    public func coefficients(_ query: Tensor) -> Tensor {
        Tensor.concat(layers.map { $0.adapter.coefficients(query).reshaped([query.shape[0], 1, config.n]) }, axis: 1)
    }

    /// The adapted layers' weights with the basis mixed by coefficients [B, layers, n] (layers in
    /// `self.layers` order) merged in, for a generation whose coefficients stay fixed. Measured on
    /// the small model at batch 1, a merge costs one to one and a half sampling steps and makes
    /// every step 0.6 to 0.65 times as long (the modulation layers included: at one row per sample
    /// their step is bound by reading W, A and B, and a merged one reads W alone). `model` is the
    /// transformer these adapters are attached to.
    public func merged(into model: FluxTransformer, coefficients: Tensor) -> AdapterInput {
        let b = coefficients.shape[0]
        precondition(coefficients.shape == [b, layers.count, config.n],
                     "merge: coefficients \(coefficients.shape) are not [B, \(layers.count), \(config.n)]")
        let linears = Dictionary(uniqueKeysWithValues: model.adaptableLinears.map { ($0.key, $0.layer) })
        return withNoGrad {
            .mergedWeights(Dictionary(uniqueKeysWithValues: layers.enumerated().map { i, layer in
                guard let linear = linears[layer.key], linear.adapter === layer.adapter else {
                    preconditionFailure("merge: the adapter of \(layer.key) is not attached to this model")
                }
                let alpha = coefficients.sliced(axis: 1, i..<(i + 1)).reshaped([b, config.n])
                return (ObjectIdentifier(layer.adapter), layer.adapter.merged(into: linear.weight, coefficients: alpha))
            }))
        }
    }

    /// Every adapter tensor with its saved key, in layer order.
    public var namedParameters: [(key: String, tensor: Tensor)] {
        layers.flatMap { key, a in
            [("transformer.\(key).lora_A", a.loraA), ("transformer.\(key).lora_B", a.loraB),
             ("transformer.\(key).lora_keys", a.loraKeys), ("transformer.\(key).att_lora_to_q.weight", a.toQ.weight)]
        }
    }

    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.tensor.count } }
}

/// Reads an adapter file in any spelling the release produces (with or without the
/// `transformer.` prefix; `lora_A` / `att_lora_A` / `lora_down`, ...) under the canonical keys
/// `transformer.<layer>.lora_A | lora_B | lora_keys | att_lora_to_q.weight`.
public struct ReleaseAdapterKeys: TensorSource {
    let source: TensorSource
    /// canonical key -> key in the source
    let map: [String: String]

    static let renames = [
        "att_lora_A": "lora_A", "att_lora_B": "lora_B", "att_lora_keys": "lora_keys",
        "lora_down": "lora_A", "lora_up": "lora_B",
    ]

    public init(_ source: TensorSource) {
        self.source = source
        var map: [String: String] = [:]
        for key in source.keys {
            var parts = key.split(separator: ".").map(String.init)
            if parts.first == "transformer" { parts.removeFirst() }
            if let last = parts.last, let renamed = Self.renames[last] { parts[parts.count - 1] = renamed }
            map["transformer." + parts.joined(separator: ".")] = key
        }
        self.map = map
    }

    public var keys: [String] { map.keys.sorted() }

    /// The key in the underlying source that stands for a canonical key.
    public func sourceKey(_ canonical: String) -> String? { map[canonical] }

    /// Diffusers keys of the adapted layers, in block order: double blocks, then single blocks,
    /// each block's layers in the release's order.
    public var layerKeys: [String] {
        let suffix = ".lora_A"
        let layers = map.keys.filter { $0.hasSuffix(suffix) }.map { String($0.dropFirst("transformer.".count).dropLast(suffix.count)) }
        return layers.sorted { Self.order($0) < Self.order($1) }
    }

    static let blockOrder = [
        "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj",
        "attn.to_add_out", "ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj", "ff_context.net.2", "norm1.linear",
        "norm1_context.linear", "proj_mlp", "proj_out", "norm.linear",
    ]

    /// (single?, block index, position in the block, key) for sorting.
    static func order(_ key: String) -> (Int, Int, Int, String) {
        let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, let block = Int(parts[1]) else { return (2, 0, 0, key) }
        return (parts[0] == "single_transformer_blocks" ? 1 : 0, block, blockOrder.firstIndex(of: parts[2]) ?? blockOrder.count, key)
    }

    public func shape(of key: String) -> [Int]? { map[key].flatMap { source.shape(of: $0) } }
    public func tensorIfPresent(_ key: String) throws -> Tensor? { try map[key].flatMap { try source.tensorIfPresent($0) } }

    /// n, r, kdim and qdim read off the shapes of the first layer's tensors.
    public func shapes() throws -> (n: Int, r: Int, kdim: Int, qdim: Int) {
        guard let aKey = keys.first(where: { $0.hasSuffix(".lora_A") }) else {
            throw LoadError("no LoRA-basis tensors (lora_A / att_lora_A) found")
        }
        let layer = String(aKey.dropLast(".lora_A".count))
        guard let a = shape(of: aKey), let k = shape(of: layer + ".lora_keys"), let q = shape(of: layer + ".att_lora_to_q.weight"),
              a.count == 3, k.count == 2, q.count == 2 else {
            throw LoadError("layer \(layer) lacks lora_A [n,in,r], lora_keys [n,kdim] or att_lora_to_q.weight [kdim,qdim]")
        }
        return (a[0], a[2], k[1], q[1])
    }
}
