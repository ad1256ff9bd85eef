import Foundation
import Formats
import Tensor

// Loading upstream checkpoints by key name: diffusers transformer folders (sharded or not),
// Hugging Face CLIP folders, and the authors' LoRWeB adapter file with its config.yaml.

extension SafetensorsFile: TensorSource {
    public var keys: [String] { names }
    public func shape(of key: String) -> [Int]? { info(key)?.shape }
    public func tensorIfPresent(_ key: String) throws -> Tensor? { contains(key) ? try weight(key) : nil }
}

/// One or more safetensors files read as one source (a sharded checkpoint).
public struct SafetensorsShards: TensorSource {
    public let files: [SafetensorsFile]
    let owner: [String: Int]

    public init(_ files: [SafetensorsFile]) throws {
        var owner: [String: Int] = [:]
        for (i, f) in files.enumerated() {
            for name in f.names {
                if let j = owner[name] { throw FormatError(f.path, "tensor \(name) is also in \(files[j].path)") }
                owner[name] = i
            }
        }
        self.files = files
        self.owner = owner
    }

    /// A file, or a folder: the shards its `*.safetensors.index.json` lists, else every `*.safetensors` in it.
    /// The index's `weight_map` is checked against the shards: a listed shard that is missing, or a
    /// tensor mapped to a shard that does not hold it, is an error naming the file.
    public static func open(_ path: String) throws -> SafetensorsShards {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FormatError(path, "no such file or folder")
        }
        guard isDir.boolValue else { return try SafetensorsShards([SafetensorsFile(path: path)]) }
        let entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        if let index = entries.first(where: { $0.hasSuffix(".safetensors.index.json") }) {
            let url = URL(fileURLWithPath: path).appendingPathComponent(index)
            guard let json = try? JSONSerialization.jsonObject(with: readFileBytes(url.path)) as? [String: Any],
                  let map = json["weight_map"] as? [String: String] else {
                throw FormatError(url.path, "not a safetensors index (no weight_map object)")
            }
            var shards: [String: SafetensorsFile] = [:]
            for shard in Set(map.values).sorted() {
                let shardPath = path + "/" + shard
                guard FileManager.default.fileExists(atPath: shardPath) else { throw FormatError(shardPath, "is listed in \(index) but missing") }
                shards[shard] = try SafetensorsFile(path: shardPath)
            }
            for (tensor, shard) in map.sorted(by: { $0.key < $1.key }) where !shards[shard]!.contains(tensor) {
                throw FormatError(path + "/" + shard, "lacks tensor \(quotedInput(tensor)), which \(index) maps to it")
            }
            return try SafetensorsShards(shards.sorted { $0.key < $1.key }.map(\.value))
        }
        let shards = entries.filter { $0.hasSuffix(".safetensors") }
        guard !shards.isEmpty else { throw FormatError(path, "no .safetensors files in this folder") }
        return try SafetensorsShards(shards.map { try SafetensorsFile(path: path + "/" + $0) })
    }

    public var keys: [String] { owner.keys.sorted() }
    public func shape(of key: String) -> [Int]? { owner[key].flatMap { files[$0].shape(of: key) } }
    public func tensorIfPresent(_ key: String) throws -> Tensor? { try owner[key].map { try files[$0].weight(key) } }
}

/// What a config.json says it describes, for refusing the wrong kind of folder: diffusers'
/// `_class_name`, else transformers' `architectures` or `model_type`.
public func configKind(_ json: [String: Any]) -> String? {
    if let name = json["_class_name"] as? String { return "diffusers \(name)" }
    if let names = json["architectures"] as? [String], !names.isEmpty { return "transformers \(names.joined(separator: ", "))" }
    return (json["model_type"] as? String).map { "transformers \($0)" }
}

/// Decodes `config.json` in `folder` as `T`, naming the file on failure. A config whose kind
/// `accepts` refuses is reported as not being `expected` before anything is decoded from it, so
/// a model folder of the wrong family fails in one line instead of by its shapes.
func readConfig<T: Decodable>(_ type: T.Type, in folder: String, expected: String, accepts: ([String: Any]) -> Bool,
                              transform: ([String: Any]) -> [String: Any] = { $0 }) throws -> T {
    let path = folder + "/config.json"
    guard FileManager.default.fileExists(atPath: path) else { throw FormatError(path, "cannot read the model's config.json") }
    let data = try readFileBytes(path)
    guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw FormatError(path, "not a JSON object")
    }
    guard accepts(json) else {
        throw FormatError(path, "is a \(configKind(json) ?? "different") config, not \(expected)")
    }
    do {
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: transform(json)))
    } catch {
        throw FormatError(path, "does not describe a \(T.self): \(error)")
    }
}

extension FluxConfig {
    /// The config.json of a diffusers FluxTransformer2DModel folder (one without `_class_name`
    /// is taken as one unless it names a transformers model), with the shapes this
    /// implementation supports.
    public static func read(_ folder: String) throws -> FluxConfig {
        let c = try readConfig(FluxConfig.self, in: folder, expected: "a diffusers FluxTransformer2DModel config",
                               accepts: { json in
            if let name = json["_class_name"] as? String { return name == "FluxTransformer2DModel" }
            return json["architectures"] == nil && json["model_type"] == nil
        })
        let path = folder + "/config.json"
        guard c.patchSize == 1 else {
            throw FormatError(path, "patch_size \(c.patchSize) is not supported: only 1 (Flux packs 2x2 latents into tokens itself)")
        }
        guard c.axesDimsRope.reduce(0, +) == c.attentionHeadDim else {
            throw FormatError(path, "axes_dims_rope \(c.axesDimsRope) must sum to attention_head_dim \(c.attentionHeadDim)")
        }
        return c
    }
}

extension FluxTransformer {
    /// A diffusers FluxTransformer2DModel: its folder (`config.json` + weights, sharded or not),
    /// or one safetensors file with `config` given. Every key must load with its shape.
    public static func load(_ path: String, config: FluxConfig? = nil) throws -> FluxTransformer {
        let c = try config ?? FluxConfig.read(path)
        return try Parameters.load(from: SafetensorsShards.open(path)) { try FluxTransformer($0, config: c) }
    }
}

extension CLIPVision {
    /// A Hugging Face CLIP folder: a full `CLIPModel` (its text tower is ignored) or a
    /// `CLIPVisionModelWithProjection`, `config.json` + `model.safetensors`.
    public static func load(_ folder: String) throws -> CLIPVision {
        let config = try readConfig(CLIPVisionConfig.self, in: folder, expected: "a CLIP vision config (CLIPVisionModelWithProjection or CLIPModel)",
                                    accepts: { json in
            guard json["_class_name"] == nil else { return false }
            let typeFits = (json["model_type"] as? String).map { ["clip", "clip_vision_model"].contains($0) } ?? true
            let archFits = (json["architectures"] as? [String]).map { $0.allSatisfy { $0.hasPrefix("CLIP") } } ?? true
            return typeFits && archFits
        }) { json in
            guard var vision = json["vision_config"] as? [String: Any] else { return json }
            vision["projection_dim"] = json["projection_dim"] ?? vision["projection_dim"]
            return vision
        }
        let path = folder + "/config.json"
        guard config.numChannels == 3 else { throw FormatError(path, "num_channels \(config.numChannels): lorweb feeds the encoder RGB images (3)") }
        guard config.patchSize > 0, config.imageSize % config.patchSize == 0 else {
            throw FormatError(path, "image_size \(config.imageSize) is not a multiple of patch_size \(config.patchSize)")
        }
        guard config.numAttentionHeads > 0, config.hiddenSize % config.numAttentionHeads == 0 else {
            throw FormatError(path, "hidden_size \(config.hiddenSize) is not divisible by num_attention_heads \(config.numAttentionHeads)")
        }
        return try Parameters.load(from: SafetensorsShards.open(folder), ignoring: ["text_model.", "text_projection.", "logit_scale"]) {
            try CLIPVision($0, config: config)
        }
    }
}
