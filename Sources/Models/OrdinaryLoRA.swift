import Foundation
import Formats
import Tensor

// Ordinary LoRAs, whoever wrote them, in one form: per target layer Delta W = scale B A.
// The writers differ only in key spelling and in where alpha lives, so reading is a small
// table of rules (`LoRAKeyRule`) plus the config that says alpha and the rank pattern.

/// One adapted layer: Delta W = scale B A, with A [r, in] and B [out, r] as stored (Float32).
public struct LoRALayer {
    /// The diffusers module path (`transformer_blocks.0.attn.to_q`), or the file's own name
    /// when no Flux module matches it.
    public let name: String
    public let a: Tensor
    public let b: Tensor
    public let alpha: Double
    /// alpha / r (alpha / sqrt(r) for rsLoRA).
    public let scale: Float
    /// How A is stored in the file.
    public let dtype: SafetensorsDType

    public var rank: Int { a.shape[0] }
    public var inFeatures: Int { a.shape[1] }
    public var outFeatures: Int { b.shape[0] }
}

/// The key spelling of one LoRA writer.
struct LoRAKeyRule {
    let layout: OrdinaryLoRA.Layout
    /// Prefixes taken off the stored layer name (the first that matches).
    let prefixes: [String]
    let down: String, up: String
    /// The per-layer alpha tensor's suffix, for writers that store alpha beside the weights.
    let alpha: String?
    /// DoRA's per-output magnitude vector.
    let magnitude: [String]

    /// Whether `key` is a down/A weight in this spelling; kohya's suffix alone tells it (its
    /// text-encoder layers have other prefixes).
    func claims(_ key: String) -> Bool {
        key.hasSuffix(down) && (layout == .kohya || prefixes.contains(where: key.hasPrefix))
    }

    static let all = [
        LoRAKeyRule(layout: .peft, prefixes: ["base_model.model."], down: ".lora_A.weight", up: ".lora_B.weight", alpha: nil,
                    magnitude: [".lora_magnitude_vector", ".lora_magnitude_vector.weight"]),
        LoRAKeyRule(layout: .kohya, prefixes: ["lora_unet_", "lora_transformer_"], down: ".lora_down.weight", up: ".lora_up.weight",
                    alpha: ".alpha", magnitude: [".dora_scale"]),
        // Last: its prefix is optional, so it would claim PEFT's keys too.
        LoRAKeyRule(layout: .diffusers, prefixes: ["transformer.", ""], down: ".lora_A.weight", up: ".lora_B.weight", alpha: nil,
                    magnitude: [".lora_magnitude_vector", ".lora_magnitude_vector.weight"]),
    ]
}

/// An ordinary LoRA read from a PEFT folder, a diffusers file, a kohya-style file or a sharded
/// folder of any of them.
public struct OrdinaryLoRA {
    public enum Layout: String {
        case peft = "peft-lora", diffusers = "diffusers-lora", kohya = "kohya-lora"
    }

    public let path: String
    public let layout: Layout
    /// Sorted by name.
    public let layers: [LoRALayer]
    /// What the reader could not honour or had to assume, one sentence each (DoRA magnitudes,
    /// unmapped kohya names, a default alpha).
    public let notes: [String]

    /// Reads `path`: a .safetensors file, or a folder (sharded with a `*.safetensors.index.json`,
    /// or a PEFT folder with `adapter_config.json`). Errors name the file or tensor at fault.
    public static func read(_ path: String) throws -> OrdinaryLoRA {
        let shards = try SafetensorsShards.open(path)
        let keys = shards.keys, present = Set(keys)
        guard let rule = LoRAKeyRule.all.first(where: { r in keys.contains(where: r.claims) }) else {
            let kind = SafetensorsSummary(shards.files[0]).layout
            let hint = kind == .lorwebAdapter ? "; a LoRWeB basis is analysed with `lorweb basis`" : ""
            throw FormatError(path, "is not an ordinary LoRA (no <layer>.lora_A.weight or <layer>.lora_down.weight tensors; it looks like \(kind.title))\(hint)")
        }
        let config = try LoRAConfig(path: path, files: shards.files)
        var notes: [String] = []
        let kohyaNames = rule.layout == .kohya ? KohyaNames(keys) : nil
        var layers: [LoRALayer] = [], magnitudes = 0, defaulted = 0, unmapped: [String] = []
        for key in keys where key.hasSuffix(rule.down) {
            let stem = String(key.dropLast(rule.down.count))
            let stored = rule.prefixes.first(where: stem.hasPrefix).map { String(stem.dropFirst($0.count)) } ?? stem
            var name = stored
            if let kohyaNames {
                if let dotted = kohyaNames.map[stored] { name = dotted } else { name = stem; unmapped.append(stem) }
            }
            guard let a = try shards.tensorIfPresent(key), let b = try shards.tensorIfPresent(stem + rule.up) else {
                throw FormatError(path, "\(key) has no \(stem + rule.up) beside it")
            }
            guard a.rank == 2, b.rank == 2, b.shape[1] == a.shape[0] else {
                throw FormatError(path, "\(stem): down/A \(a.shape) and up/B \(b.shape) are not [r, in] and [out, r]")
            }
            let r = a.shape[0]
            if let expected = config.rank(of: name), expected != r {
                throw FormatError(path, "\(key) has rank \(r) but \(config.source) says \(expected)")
            }
            var alpha = config.alpha(of: name)
            if alpha == nil, let suffix = rule.alpha, let stored = try shards.tensorIfPresent(stem + suffix) {
                guard stored.count == 1 else { throw FormatError(path, "\(stem + suffix) has shape \(stored.shape), not a scalar") }
                alpha = Double(stored.toArray()[0])
            }
            if alpha == nil { defaulted += 1 }
            let value = alpha ?? Double(r)
            guard value.isFinite else { throw FormatError(path, "\(stem): alpha \(value) is not finite") }
            if rule.magnitude.contains(where: { present.contains(stem + $0) }) { magnitudes += 1 }
            let dtype = shards.files.lazy.compactMap { $0.info(key)?.dtype }.first!
            let scale = config.rsLoRA ? value / Double(r).squareRoot() : value / Double(r)
            layers.append(LoRALayer(name: name, a: a, b: b, alpha: value, scale: Float(scale), dtype: dtype))
        }
        if magnitudes > 0 {
            notes.append("DoRA magnitude vectors on \(magnitudes) layer(s) are not supported: the analysis covers the low-rank B A part only")
        }
        if defaulted > 0 { notes.append("no alpha for \(defaulted) layer(s) in the file or a config: taken as the rank (scale 1)") }
        if !unmapped.isEmpty {
            notes.append("\(unmapped.count) kohya layer(s) match no Flux transformer module and keep their names (e.g. \(unmapped[0]))")
        }
        layers.sort { $0.name < $1.name }
        for (x, y) in zip(layers, layers.dropFirst()) where x.name == y.name {
            throw FormatError(path, "layer \(x.name) is stored twice (under two key spellings)")
        }
        return OrdinaryLoRA(path: path, layout: rule.layout, layers: layers, notes: notes)
    }
}

/// The LoRA settings that are not in the tensors: PEFT's `adapter_config.json` (beside the
/// weights) or the LoraConfig diffusers writes into the safetensors metadata
/// (`lora_adapter_metadata`, its fields prefixed with the component, e.g. `transformer.lora_alpha`,
/// when a pipeline saved it).
struct LoRAConfig {
    var source = "the config"
    var r: Int?, alpha: Double?
    var rankPattern: [(String, Int)] = [], alphaPattern: [(String, Double)] = []
    var rsLoRA = false

    init(path: String, files: [SafetensorsFile]) throws {
        var isFolder: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        let folder = isFolder.boolValue ? path : (path as NSString).deletingLastPathComponent
        let sidecar = folder + "/adapter_config.json"
        var json: [String: Any]?
        if (isFolder.boolValue || (path as NSString).lastPathComponent.hasPrefix("adapter_model")),
           FileManager.default.fileExists(atPath: sidecar) {
            guard let object = try? JSONSerialization.jsonObject(with: readFileBytes(sidecar, limit: 1 << 24)) as? [String: Any] else {
                throw FormatError(sidecar, "not a JSON object")
            }
            json = object
            source = sidecar
        } else if let text = files.lazy.compactMap({ $0.metadata["lora_adapter_metadata"] }).first {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                throw FormatError(files[0].path, "its lora_adapter_metadata is not a JSON object")
            }
            json = object.filter { !$0.key.contains(".") }.merging(
                object.compactMap { $0.key.hasPrefix("transformer.") ? (String($0.key.dropFirst("transformer.".count)), $0.value) : nil }) { $1 }
            source = "lora_adapter_metadata"
        }
        guard let json else { return }
        r = (json["r"] as? NSNumber)?.intValue
        alpha = (json["lora_alpha"] as? NSNumber)?.doubleValue
        rsLoRA = (json["use_rslora"] as? Bool) ?? false
        // PEFT tries the patterns in order; JSON objects have none, so the longest (most specific) goes first.
        func pattern(_ field: String) -> [(String, NSNumber)] {
            ((json[field] as? [String: Any]) ?? [:]).compactMap { k, v in (v as? NSNumber).map { (k, $0) } }
                .sorted { ($0.0.count, $0.0) > ($1.0.count, $1.0) }
        }
        rankPattern = pattern("rank_pattern").map { ($0.0, $0.1.intValue) }
        alphaPattern = pattern("alpha_pattern").map { ($0.0, $0.1.doubleValue) }
    }

    /// PEFT's rule: a pattern key applies to a module whose name is the key or ends in "." + key
    /// (the key may be a regular expression).
    private static func matches(_ key: String, _ layer: String) -> Bool {
        if layer == key || layer.hasSuffix("." + key) { return true }
        guard let regex = try? NSRegularExpression(pattern: "^(.*\\.)?(\(key))$") else { return false }
        return regex.firstMatch(in: layer, range: NSRange(layer.startIndex..., in: layer)) != nil
    }

    func rank(of layer: String) -> Int? { rankPattern.first { Self.matches($0.0, layer) }?.1 ?? r }
    func alpha(of layer: String) -> Double? { alphaPattern.first { Self.matches($0.0, layer) }?.1 ?? alpha }
}

/// Kohya names are diffusers module paths with every "." turned into "_" (after `lora_unet_` or
/// `lora_transformer_`), which is ambiguous (`to_q` vs `to.q`); they are mapped back by matching
/// against the Linear modules of a Flux transformer with as many blocks as the names mention.
/// Names of other models (sd-scripts' `double_blocks_0_img_attn_qkv`) match nothing.
struct KohyaNames {
    /// Underscored module path -> dotted module path.
    let map: [String: String]

    init(_ keys: [String]) {
        var config = FluxConfig.flux1KontextDev   // with the guidance embedder, which FLUX.1-schnell lacks
        func blocks(_ prefix: String) -> Int {
            keys.compactMap { key -> Int? in
                guard let range = key.range(of: "_" + prefix + "_") else { return nil }
                return Int(key[range.upperBound...].prefix { $0.isNumber })
            }.max().map { $0 + 1 } ?? 0
        }
        config.numLayers = blocks("transformer_blocks")
        config.numSingleLayers = blocks("single_transformer_blocks")
        let p = Parameters.meta()
        _ = try? FluxTransformer(p, config: config)
        var map: [String: String] = [:]
        for (key, tensor) in p.all where tensor.rank == 2 && key.hasSuffix(".weight") {
            let module = String(key.dropLast(".weight".count))
            map[module.replacingOccurrences(of: ".", with: "_")] = module
        }
        self.map = map
    }
}
