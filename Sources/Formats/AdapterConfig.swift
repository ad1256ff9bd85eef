import Foundation
import Yams

/// The adapter settings of a LoRWeB run, read from the authors' ai-toolkit `config.yaml`
/// (the file the trainer saves beside the `.safetensors`, and the one `inference.py -c` takes).
///
/// The settings live under `config.process[0].network`:
/// ```yaml
/// config:
///   process:
///   - network:
///       type: attlora
///       linear: 4              # r
///       linear_alpha: 4
///       network_kwargs:
///         loras_num: 32        # n
///         lora_keys_dim: 128
///         lora_heads: 1
///         lora_softmax: true
///         mixing_coeffs_type: mean
///         pooling_type: avg
///         query_projection_type: linear
///         query_mode: cat-aa'b
///         external_query: true
///         external_query_model: openai/clip-vit-large-patch14
/// ```
/// Shapes in the weight file are the authority for n, r and kdim; the config is the only source
/// for heads, the coefficient function, mixing and the query settings.
public struct LoRWeBAdapterConfig: Sendable, Equatable, Codable {
    /// How per-head scores become coefficients (`lora_softmax` true or false).
    public enum CoefficientFunction: String, Sendable, Codable { case softmax, tanh }
    /// How per-head coefficients combine (`mixing_coeffs_type`).
    public enum Mixing: String, Sendable, Codable, CaseIterable { case mean, sum }

    /// Rank of each basis LoRA (`linear`).
    public var r: Int
    /// LoRA alpha (`linear_alpha`); the scale is alpha / r (the release's Flux trainer forces alpha = r).
    public var alpha: Double
    /// Number of basis LoRAs (`loras_num`).
    public var n: Int
    /// Key and projected-query width (`lora_keys_dim`).
    public var keysDim: Int
    /// Attention heads splitting the keys (`lora_heads`); divides `keysDim`.
    public var heads: Int
    public var coefficients: CoefficientFunction
    public var mixing: Mixing
    /// Token pooling of an internal query (`pooling_type`, e.g. "avg").
    public var poolingType: String
    /// Query projection (`query_projection_type`, e.g. "linear").
    public var queryProjectionType: String
    /// Which images make the query (`query_mode`, e.g. "cat-aa'b").
    public var queryMode: String
    /// Whether the query comes from an external image encoder (`external_query`).
    public var externalQuery: Bool
    /// The external encoder (`external_query_model`, e.g. "openai/clip-vit-large-patch14"), if named.
    public var externalQueryModel: String?

    public init(r: Int, alpha: Double, n: Int, keysDim: Int, heads: Int, coefficients: CoefficientFunction,
                mixing: Mixing, poolingType: String, queryProjectionType: String, queryMode: String,
                externalQuery: Bool, externalQueryModel: String?)
    {
        self.r = r; self.alpha = alpha; self.n = n; self.keysDim = keysDim; self.heads = heads
        self.coefficients = coefficients; self.mixing = mixing; self.poolingType = poolingType
        self.queryProjectionType = queryProjectionType; self.queryMode = queryMode
        self.externalQuery = externalQuery; self.externalQueryModel = externalQueryModel
    }

    /// Reads the config file at `path`.
    public static func load(_ path: String) throws -> LoRWeBAdapterConfig {
        try LoRWeBAdapterConfig(yaml: readTextFile(path, what: "an ai-toolkit config.yaml"), path: path)
    }

    /// Parses config text; `path` names the source in errors.
    /// - Throws: `FormatError` naming the field path, e.g.
    ///   `config.process[0].network.network_kwargs.loras_num: missing`.
    public init(yaml: String, path: String) throws {
        let node: Node?
        do { node = try Yams.compose(yaml: yaml) } catch {
            let firstLine = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw FormatError(path, "not valid YAML: \(firstLine)")
        }
        var budget = Self.maxNodes
        let root = try node.map { try Self.value($0, path: path, budget: &budget) }
        let network = try Field(root, "", path).key("config").key("process").index(0).key("network")
        let kwargs = try network.key("network_kwargs")

        r = try network.key("linear").positiveInt()
        alpha = try network.key("linear_alpha").number()
        n = try kwargs.key("loras_num").positiveInt()
        keysDim = try kwargs.key("lora_keys_dim").positiveInt()
        let headsField = try kwargs.key("lora_heads")
        heads = try headsField.positiveInt()
        guard keysDim % heads == 0 else {
            throw headsField.error("\(heads) heads do not divide lora_keys_dim \(keysDim)")
        }
        coefficients = try kwargs.key("lora_softmax").bool() ? .softmax : .tanh
        let mixingField = try kwargs.key("mixing_coeffs_type")
        let mixingName = try mixingField.string()
        guard let mixing = Mixing(rawValue: mixingName) else {
            throw mixingField.error("'\(mixingName)' is not one of \(Mixing.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.mixing = mixing
        poolingType = try kwargs.key("pooling_type").string()
        queryProjectionType = try kwargs.key("query_projection_type").string()
        queryMode = try kwargs.key("query_mode").string()
        externalQuery = try kwargs.key("external_query").bool()
        externalQueryModel = try kwargs.optionalKey("external_query_model")?.string()
    }
}

extension LoRWeBAdapterConfig {
    /// Nodes a config may expand to; the release's has about 60. Aliases can make a short
    /// document expand exponentially ("billion laughs"), so the walk stops here.
    static let maxNodes = 100_000

    /// The YAML tree as the plain values `Field` reads. Built here rather than by `Yams.load`,
    /// which traps on a mapping key that is not a scalar (found by fuzzing: `? [a]\n: b`).
    private static func value(_ node: Node, path: String, budget: inout Int) throws -> Any {
        budget -= 1
        guard budget >= 0 else { throw FormatError(path, "not a config: the document expands to more than \(maxNodes) YAML nodes") }
        switch node {
        case .scalar:
            return Constructor.default.any(from: node)
        case .sequence(let items):
            return try items.map { try value($0, path: path, budget: &budget) }
        case .mapping(let pairs):
            var map: [AnyHashable: Any] = [:]
            for (key, item) in pairs {
                guard case .scalar(let k) = key else {
                    throw FormatError(path, "a mapping key is a \(key.mapping == nil ? "list" : "mapping"), not a name (line \(key.mark?.line ?? 0))")
                }
                map[k.string] = try value(item, path: path, budget: &budget)
            }
            return map
        case .alias:
            throw FormatError(path, "unresolved YAML alias")
        }
    }
}

/// A value found at a dotted path in the YAML tree, so every error can say where it looked.
private struct Field {
    let value: Any?
    let fieldPath: String
    let file: String

    init(_ value: Any?, _ fieldPath: String, _ file: String) {
        self.value = value
        self.fieldPath = fieldPath
        self.file = file
    }

    func error(_ problem: String) -> FormatError {
        FormatError(file, "\(fieldPath.isEmpty ? "document" : fieldPath): \(problem)")
    }

    private func child(_ name: String) -> String { fieldPath.isEmpty ? name : "\(fieldPath).\(name)" }

    func optionalKey(_ name: String) throws -> Field? {
        guard let map = value as? [AnyHashable: Any] else {
            throw error("expected a mapping, found \(Self.kind(value))")
        }
        guard let v = map[name], !(v is NSNull) else { return nil }
        return Field(v, child(name), file)
    }

    func key(_ name: String) throws -> Field {
        guard let field = try optionalKey(name) else { throw FormatError(file, "\(child(name)): missing") }
        return field
    }

    func index(_ i: Int) throws -> Field {
        guard let list = value as? [Any] else { throw error("expected a list, found \(Self.kind(value))") }
        guard i < list.count else { throw FormatError(file, "\(fieldPath)[\(i)]: missing (the list is empty)") }
        return Field(list[i], "\(fieldPath)[\(i)]", file)
    }

    func positiveInt() throws -> Int {
        guard let v = value as? Int else { throw error("expected an integer, found \(Self.kind(value))") }
        guard v > 0 else { throw error("expected a positive integer, found \(v)") }
        return v
    }

    func number() throws -> Double {
        if let v = value as? Int { return Double(v) }
        if let v = value as? Double { return v }
        throw error("expected a number, found \(Self.kind(value))")
    }

    /// A YAML boolean; the strings "true"/"false" are accepted too, because the release's
    /// `run.py` takes `--lora_softmax` as a string.
    func bool() throws -> Bool {
        if let v = value as? Bool { return v }
        if let s = value as? String, ["true", "false"].contains(s.lowercased()) { return s.lowercased() == "true" }
        throw error("expected true or false, found \(Self.kind(value))")
    }

    func string() throws -> String {
        guard let v = value as? String else { throw error("expected a string, found \(Self.kind(value))") }
        return v
    }

    private static func kind(_ value: Any?) -> String {
        switch value {
        case nil: "nothing"
        case let v as String: "the string '\(v)'"
        case let v as Bool: "the boolean \(v)"
        case let v as Int: "the integer \(v)"
        case let v as Double: "the number \(v)"
        case is [Any]: "a list"
        case is [AnyHashable: Any]: "a mapping"
        default: "\(type(of: value!))"
        }
    }
}
