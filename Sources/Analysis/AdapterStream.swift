import Foundation
import Formats
import Models
import Tensor

// Layer-by-layer access to an adapter file for analyses that need whole bases (coefficients,
// export): one layer's tensors are converted, used and dropped, so the authors' 835M-parameter
// float16 file never has to fit in memory as float32.

public struct AdapterStream {
    public let file: SafetensorsFile
    public let source: ReleaseAdapterKeys
    public let config: LoRABasisConfig
    /// How the model builds its query from encoder embeddings.
    public let queryMode: QueryMode
    /// Diffusers keys of the adapted layers, in block order.
    public let layers: [String]
    /// The run folder the adapters come from; nil for the authors' file.
    public let runFolder: String?
    /// A run folder's image encoder (a Hugging Face CLIP folder); nil for the authors' file,
    /// whose encoder is not shipped with it.
    public let encoderPath: String?

    /// The authors' file (config.yaml beside it, or `configPath`) or a lorweb run folder.
    /// Analyses of the basis alone (`mixing: false`) need no config.yaml: heads, softmax and
    /// mixing only matter for turning a query into coefficients.
    public init(model: String, configPath: String? = nil, mixing: Bool = true) throws {
        switch try AdapterFile(model) {
        case .runFolder:
            let run = try RunCheckpoint.config(in: model)
            runFolder = model
            file = try SafetensorsFile(path: model + "/" + RunCheckpoint.weightsFile)
            config = run.adapter
            queryMode = run.queryMode
            encoderPath = run.encoderPath.map { RunConfig.resolve($0, in: model) }
        case .release:
            (runFolder, encoderPath) = (nil, nil)
            file = try SafetensorsFile(path: model)
            guard !ReleaseAdapterKeys(file).layerKeys.isEmpty else {
                throw FormatError(model, "holds no LoRA-basis layers (no lora_A / att_lora_A tensors)")
            }
            let shapes: (n: Int, r: Int, kdim: Int, qdim: Int)
            do { shapes = try ReleaseAdapterKeys(file).shapes() } catch { throw FormatError(model, "\(error)") }
            if mixing || configPath != nil {
                let yamlPath = AdapterFile.releaseConfigPath(of: model, given: configPath)
                (config, queryMode) = try LoRABasisConfig.release(shapes: shapes, yaml: try LoRWeBAdapterConfig.load(yamlPath), yamlPath: yamlPath, file: model,
                                                                   sizesAgree: false)
            } else {
                // The basis alone: the shapes say all it needs (scale 1, as the release's trainer forces).
                config = LoRABasisConfig(n: shapes.n, r: shapes.r, keysDim: shapes.kdim, queryDim: shapes.qdim)
                queryMode = .concatenated
            }
        }
        source = ReleaseAdapterKeys(file)
        layers = source.layerKeys
        guard !layers.isEmpty else { throw FormatError(file.path, "holds no LoRA-basis layers (no lora_A / att_lora_A tensors)") }
    }

    /// The basis of layer `index`, loaded without caching.
    public func adapter(_ index: Int) throws -> LoRABasis {
        let key = layers[index]
        var tensors: [String: Tensor] = [:]
        for name in ["lora_A", "lora_B", "lora_keys", "att_lora_to_q.weight"] {
            guard let k = source.sourceKey("transformer.\(key).\(name)") else { throw FormatError(file.path, "layer \(key) has no \(name)") }
            tensors[name] = try file.weight(k, cache: false)
        }
        let a = tensors["lora_A"]!, b = tensors["lora_B"]!
        guard a.rank == 3, b.rank == 3 else { throw FormatError(file.path, "layer \(key): lora_A \(a.shape) / lora_B \(b.shape) are not [n, in, r] / [n, r, out]") }
        do {
            return try Parameters.load(from: TensorDictionary(tensors)) {
                try LoRABasis($0, inFeatures: a.shape[1], outFeatures: b.shape[2], config: config)
            }
        } catch let error as LoadError {
            throw FormatError(file.path, "layer \(key): \(error.description)")
        }
    }

    /// Runs `body(layer index, basis)` over every layer, layers in parallel; results by index.
    /// `progress(done, total)` is called as layers finish.
    public func map<T>(progress: (Int, Int) -> Void = { _, _ in }, _ body: (Int, LoRABasis) throws -> T) throws -> [T] {
        var results = [T?](repeating: nil, count: layers.count)
        var failure: Error?
        var done = 0
        let lock = NSLock()
        results.withUnsafeMutableBufferPointer { out in
            let slots = out.baseAddress!
            parallelFor(layers.count, grain: 1) { range in
                for i in range {
                    do { slots[i] = try body(i, try adapter(i)) } catch {
                        lock.lock(); failure = failure ?? error; lock.unlock()
                    }
                    lock.lock(); done += 1; let d = done; lock.unlock()
                    progress(d, layers.count)
                }
            }
        }
        if let failure { throw failure }
        return results.map { $0! }
    }
}
