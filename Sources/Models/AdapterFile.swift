import Foundation
import Formats

// "Which adapter file is this": the one decision every command that takes `--model` makes, and
// the one translation of the authors' ai-toolkit config into a basis config.

/// What a `--model` path holds: a lorweb run folder (lorweb.json, adapters.safetensors, and the
/// base and encoder it names) or the authors' released adapter file (a .safetensors with an
/// ai-toolkit config.yaml, by default beside it).
public enum AdapterFile: Equatable {
    case runFolder(String)
    case release(String)

    /// Decides by what is on disk: a folder is a run folder, a file the authors' adapter file.
    public init(_ path: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw FormatError(path, "no such file or folder") }
        self = isFolder.boolValue ? .runFolder(path) : .release(path)
    }

    /// The ai-toolkit config.yaml of an authors' file: `configPath` when given, else config.yaml beside it.
    public static func releaseConfigPath(of file: String, given configPath: String? = nil) -> String {
        configPath ?? URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("config.yaml").path
    }
}

extension LoRABasisConfig {
    /// The basis config of the authors' adapter file: n, r, kdim and qdim from the tensors'
    /// `shapes`, heads / softmax / mixing and the query mode from its ai-toolkit config (read from
    /// `yamlPath`). The release's Flux trainer forces lora_alpha = r, so the scale is 1.
    /// With `sizesAgree` (loading the whole adapter set) the config's n, r and kdim must also be
    /// the shapes'; analyses that stream the layers read only heads, softmax, mixing and the query
    /// mode from it, so a config of the full release serves a cut-down file (as in the test fixtures).
    public static func release(shapes: (n: Int, r: Int, kdim: Int, qdim: Int), yaml: LoRWeBAdapterConfig, yamlPath: String,
                               file: String, sizesAgree: Bool) throws -> (config: LoRABasisConfig, queryMode: QueryMode) {
        guard !sizesAgree || (yaml.n == shapes.n && yaml.r == shapes.r && yaml.keysDim == shapes.kdim) else {
            throw FormatError(yamlPath, "says n \(yaml.n), r \(yaml.r), kdim \(yaml.keysDim) but \(file) holds n \(shapes.n), r \(shapes.r), kdim \(shapes.kdim)")
        }
        guard let mode = QueryMode(rawValue: yaml.queryMode) else {
            throw FormatError(yamlPath, "query_mode \(yaml.queryMode) is not supported (\(QueryMode.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let config = LoRABasisConfig(n: shapes.n, r: shapes.r, keysDim: shapes.kdim, queryDim: shapes.qdim, heads: yaml.heads,
                                     softmax: yaml.coefficients == .softmax, mixing: yaml.mixing == .mean ? .mean : .sum, scale: 1)
        return (config, mode)
    }
}
