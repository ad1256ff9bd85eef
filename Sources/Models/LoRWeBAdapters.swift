import Tensor

// The full set of LoRA-basis adapters on a Flux transformer, keyed as the release saves them:
// `transformer.<diffusers layer key>.{lora_A, lora_B, lora_keys, att_lora_to_q.weight}`.

public final class LoRWeBAdapters {
    public let config: LoRABasisConfig
    /// (diffusers layer key, adapter), in block order.
    public let layers: [(key: String, adapter: LoRABasis)]

    /// Creates (or loads, depending on `p`) one basis per adaptable Linear and attaches it.
    public init(_ p: Parameters, attachingTo model: FluxTransformer, config: LoRABasisConfig) throws {
        self.config = config
        let root = p.scoped("transformer")
        layers = try model.adaptableLinears.map { key, linear in
            let adapter = try LoRABasis(root.scoped(key), inFeatures: linear.inFeatures, outFeatures: linear.outFeatures, config: config)
            linear.adapter = adapter
            return (key, adapter)
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
