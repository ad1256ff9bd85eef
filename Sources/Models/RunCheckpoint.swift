import Foundation
import Formats
import Tensor

// A lorweb run on disk: `adapters.safetensors` (the release's key layout, so the authors' tools
// and `lorweb inspect` read it) and `lorweb.json` with every hyperparameter needed to rebuild the
// model around it.

/// Everything that defines a trained LoRWeB model besides its weights.
public struct RunConfig: Codable, Equatable {
    public var adapter: LoRABasisConfig
    public var queryMode: QueryMode
    /// The base transformer's constructor config.
    public var base: FluxConfig
    /// The frozen image encoder's config, when the run used a CLIP-architecture encoder.
    public var encoder: CLIPVisionConfig?
    /// Where the frozen base transformer and image encoder are (diffusers / Hugging Face
    /// folders), relative to the run folder unless absolute; nil when not recorded.
    public var basePath: String?
    public var encoderPath: String?

    /// A path stored in the config (`basePath`, `encoderPath`: relative to the run folder unless
    /// absolute) as a path from the working folder.
    public static func resolve(_ path: String, in runFolder: String) -> String {
        path.hasPrefix("/") ? path : runFolder + "/" + path
    }
    /// Grids are generated at about this many pixels squared (nil: the pipeline's default).
    public var gridResolution: Int?
    /// Free-form provenance (training recipe, data, steps, lorweb version).
    public var info: [String: String]

    public init(adapter: LoRABasisConfig, queryMode: QueryMode, base: FluxConfig, encoder: CLIPVisionConfig?,
                basePath: String? = nil, encoderPath: String? = nil, info: [String: String] = [:]) {
        self.adapter = adapter; self.queryMode = queryMode; self.base = base; self.encoder = encoder
        self.basePath = basePath; self.encoderPath = encoderPath; self.info = info
    }

    enum CodingKeys: String, CodingKey {
        case adapter, queryMode = "query_mode", base, encoder, basePath = "base_path", encoderPath = "encoder_path", gridResolution = "grid_resolution", info
    }
}

public enum RunCheckpoint {
    public static let configFile = "lorweb.json"
    public static let weightsFile = "adapters.safetensors"

    /// Writes the adapters and config into `folder` (created if needed); each file is written
    /// to a temporary name and renamed, so an interrupted save never leaves a half file.
    public static func save(_ adapters: LoRWeBAdapters, config: RunConfig, to folder: String) throws {
        try AtomicFile.createFolder(folder)
        try Safetensors.write(adapters.namedParameters.map { ($0.key, $0.tensor) }, dtype: .f32,
                              metadata: ["format": "pt", "lorweb": "run"], to: folder + "/" + weightsFile)
        try JSONFile.write(config, to: folder + "/" + configFile)
    }

    /// Reads a run's config.
    public static func config(in folder: String) throws -> RunConfig {
        let path = folder + "/" + configFile
        guard FileManager.default.fileExists(atPath: path) else {
            throw FormatError(path, "cannot read: not a lorweb run folder (no \(configFile))")
        }
        let data = try readFileBytes(path)
        do { return try JSONDecoder().decode(RunConfig.self, from: data) } catch {
            throw FormatError(path, "not a lorweb run config: \(error)")
        }
    }

    /// Loads a run's adapters and attaches them to `model`, whose config must be the run's base.
    public static func load(_ folder: String, attachingTo model: FluxTransformer) throws -> (RunConfig, LoRWeBAdapters) {
        let config = try config(in: folder)
        guard config.base == model.config else {
            throw FormatError(folder, "the run was trained on another base model (its lorweb.json base config differs from the model's)")
        }
        let path = folder + "/" + weightsFile
        let source = ReleaseAdapterKeys(try SafetensorsFile(path: path))
        do {
            return (config, try Parameters.load(from: source) { try LoRWeBAdapters($0, attachingTo: model, config: config.adapter) })
        } catch let error as LoadError {
            throw FormatError(path, error.description)
        }
    }
}
