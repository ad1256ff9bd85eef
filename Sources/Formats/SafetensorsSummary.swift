import Foundation

/// What a safetensors file, or the shards of one model, hold, from their headers (no tensor data
/// is read but a kohya LoRA's scalar alphas): the facts `lorweb inspect` prints.
public struct SafetensorsSummary: Sendable {
    /// Which model family the key names belong to.
    public enum Layout: String, Sendable {
        /// The authors' LoRWeB adapter: per layer `lora_A`, `lora_B`, `lora_keys`, `att_lora_to_q.weight`.
        case lorwebAdapter = "lorweb-adapter"
        /// A diffusers `FluxTransformer2DModel` (`transformer_blocks.N...`, `x_embedder...`).
        case diffusersFlux = "diffusers-flux-transformer"
        /// A transformers CLIP vision tower (`vision_model...`).
        case clipVision = "transformers-clip-vision"
        /// An ordinary LoRA as diffusers writes it (`transformer.<layer>.lora_A.weight`, or bare layer names).
        case diffusersLoRA = "diffusers-lora"
        /// A PEFT adapter (`base_model.model.<layer>.lora_A.weight`, `adapter_config.json` beside it).
        case peftLoRA = "peft-lora"
        /// A kohya-style LoRA (`lora_unet_<layer with _>.lora_down.weight`, `.lora_up.weight`, `.alpha`).
        case kohyaLoRA = "kohya-lora"
        case plain

        /// The name people read, e.g. "lorweb-adapter (LoRWeB release layout)".
        public var title: String { self == .lorwebAdapter ? "\(rawValue) (LoRWeB release layout)" : rawValue }
    }

    public let path: String
    /// Bytes over all files.
    public let fileSize: Int
    /// How many files the model is stored in (1 unless sharded).
    public let files: Int
    public let layout: Layout
    public let tensors: Int
    /// Total number of elements over all tensors.
    public let parameters: Int
    /// Number of tensors of each dtype, ordered by dtype name.
    public let dtypes: [(dtype: SafetensorsDType, tensors: Int)]
    /// The files' metadata; on a key the shards disagree on, the first file's value.
    public let metadata: [String: String]
    /// Basis geometry, for adapter files.
    public let adapter: AdapterGeometry?
    /// Ranks and alpha, for ordinary LoRA files.
    public var lora: LoRAGeometry?

    public init(_ file: SafetensorsFile) { self.init([file], path: file.path) }

    /// One model stored in `files` (the shards of a folder at `path`).
    public init(_ files: [SafetensorsFile], path: String) {
        self.path = path
        self.files = files.count
        fileSize = files.reduce(0) { $0 + $1.fileSize }
        let all = files.flatMap(\.tensors)
        tensors = all.count
        parameters = all.reduce(0) { $0 + $1.count }
        var counts: [SafetensorsDType: Int] = [:]
        for t in all { counts[t.dtype, default: 0] += 1 }
        dtypes = counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        metadata = files.reduce(into: [:]) { $0.merge($1.metadata) { kept, _ in kept } }
        adapter = AdapterGeometry(all)
        lora = adapter == nil ? LoRAGeometry(files, metadata: metadata) : nil
        if adapter != nil {
            layout = .lorwebAdapter
        } else if let lora {
            layout = lora.kohya ? .kohyaLoRA : lora.peft ? .peftLoRA : .diffusersLoRA
        } else {
            layout = Self.layout(of: all.map(\.name))
        }
    }

    private static func layout(of names: [String]) -> Layout {
        let bare = names.map { $0.hasPrefix("transformer.") ? String($0.dropFirst("transformer.".count)) : $0 }
        if bare.contains(where: { ["transformer_blocks.", "single_transformer_blocks.", "x_embedder."].contains(where: $0.hasPrefix) }) {
            return .diffusersFlux
        }
        if names.contains(where: { $0.hasPrefix("vision_model.") }) { return .clipVision }
        return .plain
    }
}

/// The shape of a LoRWeB basis adapter, read off its tensors:
/// `lora_A` [n, in, r], `lora_B` [n, r, out], `lora_keys` [n, kdim], `att_lora_to_q.weight` [kdim, qdim].
public struct AdapterGeometry: Sendable, Equatable {
    /// Number of layers with a basis (`lora_A`).
    public let layers: Int
    public let n: Int
    public let r: Int
    public let kdim: Int
    public let qdim: Int
    /// Inconsistencies found (layers disagreeing on a size, missing parts, unrecognised tensors);
    /// empty for a well-formed adapter.
    public let problems: [String]

    /// The key endings of each part; the release saves the first spelling, its inference
    /// loader renames to the second, and a `transformer.` prefix may precede the layer name.
    static let parts: [(part: String, suffixes: [String])] = [
        ("lora_A", [".lora_A", ".att_lora_A"]),
        ("lora_B", [".lora_B", ".att_lora_B"]),
        ("lora_keys", [".lora_keys", ".att_lora_keys"]),
        ("to_q", [".att_lora_to_q.weight", ".lora_to_q.weight"]),
    ]

    /// Nil unless the tensors contain at least a basis, keys and a query projection.
    init?(_ tensors: [SafetensorsTensorInfo]) {
        // layer name -> part -> shape
        var layers: [String: [String: [Int]]] = [:]
        var unplaced = 0
        for t in tensors {
            let bare = t.name.hasPrefix("transformer.") ? String(t.name.dropFirst("transformer.".count)) : t.name
            guard let (part, suffix) = Self.parts.lazy.compactMap({ p in p.suffixes.first(where: bare.hasSuffix).map { (p.part, $0) } }).first else {
                unplaced += 1
                continue
            }
            layers[String(bare.dropLast(suffix.count)), default: [:]][part] = t.shape
        }
        let present = Set(layers.values.flatMap(\.keys))
        guard present.isSuperset(of: ["lora_A", "lora_keys", "to_q"]) else { return nil }

        var problems: [String] = []
        // The most common value of one dimension of one part, noting disagreement.
        func size(_ part: String, _ axis: Int, rank: Int, _ label: String) -> Int {
            var votes: [Int: Int] = [:]
            for shape in layers.values.compactMap({ $0[part] }) where shape.count == rank { votes[shape[axis], default: 0] += 1 }
            if votes.count > 1 {
                problems.append("layers disagree on \(label): \(votes.keys.sorted().map(String.init).joined(separator: ", "))")
            }
            return votes.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? 0
        }
        n = size("lora_A", 0, rank: 3, "n")
        r = size("lora_A", 2, rank: 3, "r")
        kdim = size("lora_keys", 1, rank: 2, "kdim")
        qdim = size("to_q", 1, rank: 2, "qdim")
        self.layers = layers.values.filter { $0["lora_A"] != nil }.count
        for (part, _) in Self.parts {
            let missing = layers.values.filter { $0[part] == nil }.count
            if missing > 0 { problems.append("\(missing) layer(s) have no \(part)") }
        }
        if unplaced > 0 { problems.append("\(unplaced) tensor(s) are not adapter parameters") }
        self.problems = problems
    }
}

/// An ordinary LoRA read off its tensors: per layer `lora_A.weight` [r, in] and `lora_B.weight`
/// [out, r] (PEFT's and diffusers' convention), with alpha from the file's `lora_adapter_metadata`
/// or (set by the caller) a PEFT folder's `adapter_config.json`; kohya files store one alpha per
/// layer as a scalar tensor, which is read.
public struct LoRAGeometry: Sendable, Equatable {
    public let layers: Int
    public let minRank: Int, maxRank: Int
    /// Whether the keys carry PEFT's `base_model.model.` prefix.
    public let peft: Bool
    /// Whether the keys are kohya's `lora_down`/`lora_up`.
    public let kohya: Bool
    /// `lora_alpha` when the metadata or a config says it (scale = alpha / r); for kohya files the
    /// smallest of the layers' alphas.
    public var alpha: Double?
    /// The largest alpha, where layers have their own (kohya).
    public var maxAlpha: Double?
    /// Where `alpha` came from.
    public var alphaSource: String?

    init?(_ files: [SafetensorsFile], metadata: [String: String]) {
        let tensors = files.flatMap(\.tensors)
        // kohya's down/up are PEFT's A/B; its alpha is a scalar tensor per layer, read below.
        let kohya = tensors.contains { $0.name.hasSuffix(".lora_down.weight") }
        let (down, up) = kohya ? (".lora_down.weight", ".lora_up.weight") : (".lora_A.weight", ".lora_B.weight")
        var ranks: [String: Int] = [:], ups = 0
        for t in tensors {
            if t.name.hasSuffix(down), t.shape.count == 2 { ranks[String(t.name.dropLast(down.count))] = t.shape[0] }
            if t.name.hasSuffix(up) { ups += 1 }
        }
        guard !ranks.isEmpty, ups > 0 else { return nil }
        layers = ranks.count
        minRank = ranks.values.min()!
        maxRank = ranks.values.max()!
        self.kohya = kohya
        peft = ranks.keys.contains { $0.hasPrefix("base_model.model.") }
        // diffusers' pipeline files prefix every LoraConfig field with the component ("transformer.lora_alpha").
        if let text = metadata["lora_adapter_metadata"],
           let config = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
           let value = config.first(where: { $0.key == "lora_alpha" || $0.key.hasSuffix(".lora_alpha") })?.value as? NSNumber {
            alpha = value.doubleValue
            alphaSource = "lora_adapter_metadata"
        }
        if kohya {
            // A few scalars; a file whose alpha is not one float is left to the LoRA reader to refuse.
            let alphas = ranks.keys.compactMap { stem -> Double? in
                guard let file = files.first(where: { $0.info(stem + ".alpha")?.count == 1 }),
                      let value = try? file.tensor(stem + ".alpha", cache: false).toArray()[0] else { return nil }
                return Double(value)
            }
            if let low = alphas.min(), let high = alphas.max() {
                alpha = low
                maxAlpha = high > low ? high : nil
                alphaSource = alphas.count == ranks.count ? ".alpha tensors" : ".alpha tensors of \(alphas.count) layer(s)"
            }
        }
    }
}
