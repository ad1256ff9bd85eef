import Foundation
import Formats
import Tensor

// A training checkpoint is ONE safetensors file, so it is written and replaced atomically as a
// whole: `param.<key>`, `adam.m.<key>` and `adam.v.<key>` in float32 (bit-exact resume), and
// every scalar in `__metadata__` as strings (JSON where structured). A checksum over names,
// shapes and data lets `latest(in:)` skip a file that was damaged after it was written.

/// Everything a run needs to continue bit for bit after `step` completed steps.
public struct TrainingState {
    /// Completed optimizer steps.
    public var step: Int
    /// The trainable tensors by key (the order is the optimizer's).
    public var parameters: [(key: String, tensor: Tensor)]
    public var optimizer: AdamWState
    /// The run's root generator; step s draws from `rng.fork(s)`.
    public var rng: RNG
    /// The data order, when the run reads a data set.
    public var dataOrder: DataOrder?
    /// The run's configuration as JSON, stored for provenance and for the caller to check.
    public var config: String

    public init(step: Int, parameters: [(key: String, tensor: Tensor)], optimizer: AdamWState, rng: RNG,
                dataOrder: DataOrder? = nil, config: String = "{}")
    {
        self.step = step; self.parameters = parameters; self.optimizer = optimizer
        self.rng = rng; self.dataOrder = dataOrder; self.config = config
    }
}

/// Reading, writing and rotating training checkpoints (`checkpoint-<step>.safetensors`).
public enum TrainingCheckpoint {
    /// How many checkpoints `save` keeps in a run folder.
    public static let kept = 2

    /// The file name of the checkpoint after `step` steps.
    public static func fileName(step: Int) -> String { "checkpoint-\(step).safetensors" }

    /// Writes `state` to `path` atomically (temporary file, fsync, rename).
    public static func write(_ state: TrainingState, to path: String) throws {
        var tensors: [(String, Tensor)] = []
        for (key, p) in state.parameters {
            guard let m = state.optimizer.m[key], let v = state.optimizer.v[key] else {
                throw FormatError(path, "no optimizer moments for parameter '\(key)'")
            }
            tensors += [("param." + key, p), ("adam.m." + key, m), ("adam.v." + key, v)]
        }
        tensors.sort { $0.0 < $1.0 }
        var metadata = [
            "format": "pt", "lorweb": "training-state", "step": String(state.step), "config": state.config,
            "rng": try json(state.rng, path), "optimizer": try json(OptimizerMetadata(state.optimizer, order: state.parameters.map(\.key)), path),
            "checksum": checksum(tensors),
        ]
        if let order = state.dataOrder { metadata["data_order"] = try json(order, path) }
        try Safetensors.write(tensors, dtype: .f32, metadata: metadata, to: path)
    }

    /// Reads and verifies the checkpoint at `path`. Throws a `FormatError` for a truncated or
    /// damaged file, a failed checksum or missing fields.
    public static func read(_ path: String) throws -> TrainingState {
        let file = try SafetensorsFile(path: path)
        let meta = file.metadata
        guard meta["lorweb"] == "training-state" else { throw FormatError(path, "not a lorweb training checkpoint") }
        guard let stepText = meta["step"], let step = Int(stepText), let config = meta["config"] else {
            throw FormatError(path, "checkpoint metadata lacks 'step' or 'config'")
        }
        let rng: RNG = try decode(meta["rng"], "rng", path)
        let optimizer: OptimizerMetadata = try decode(meta["optimizer"], "optimizer", path)
        let dataOrder: DataOrder? = meta["data_order"] == nil ? nil : try decode(meta["data_order"], "data_order", path)

        let tensors = try file.names.map { ($0, try file.tensor($0)) }
        guard checksum(tensors) == meta["checksum"] else {
            throw FormatError(path, "checksum mismatch: the file was damaged after it was written")
        }
        var state = TrainingState(step: step, parameters: [], optimizer: AdamWState(config: optimizer.config),
                                  rng: rng, dataOrder: dataOrder, config: config)
        let byName = Dictionary(uniqueKeysWithValues: tensors)
        // Parameters in the optimizer's stored order, so the state reads back as it was saved.
        for key in optimizer.order {
            guard let p = byName["param." + key], let m = byName["adam.m." + key], let v = byName["adam.v." + key],
                  let k = optimizer.steps[key] else {
                throw FormatError(path, "parameter '\(key)' lacks its tensor, moments or step count")
            }
            state.parameters.append((key, p))
            state.optimizer.m[key] = m
            state.optimizer.v[key] = v
            state.optimizer.steps[key] = k
        }
        guard tensors.count == 3 * optimizer.order.count else {
            throw FormatError(path, "holds \(tensors.count) tensors, expected 3 per parameter for \(optimizer.order.count) parameters")
        }
        return state
    }

    /// The run folder's checkpoints by step, oldest first (by file name only; not validated).
    public static func checkpoints(in folder: String) -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".safetensors"),
                  let step = Int(name.dropFirst("checkpoint-".count).dropLast(".safetensors".count)) else { return nil }
            return (step, folder + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    /// Writes `state` as `checkpoint-<step>.safetensors` in `folder` and removes all but the
    /// newest `kept` checkpoints. Returns the new file's path.
    @discardableResult
    public static func save(_ state: TrainingState, in folder: String) throws -> String {
        let path = folder + "/" + fileName(step: state.step)
        try write(state, to: path)
        for old in checkpoints(in: folder).dropLast(kept) { try? FileManager.default.removeItem(atPath: old.path) }
        return path
    }

    /// Removes a run's checkpoints (damaged ones included) and its metrics log from `folder`, for a
    /// new run that replaces it.
    public static func removeRun(in folder: String) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names where name == MetricsLog.fileName || (name.hasPrefix("checkpoint-") && name.contains(".safetensors")) {
            do { try FileManager.default.removeItem(atPath: folder + "/" + name) } catch {
                throw FormatError(folder + "/" + name, "cannot remove the replaced run's file: \((error as NSError).localizedDescription)")
            }
        }
    }

    /// The newest checkpoint in `folder` that reads and verifies, or nil when there is none.
    /// Each newer file that fails is reported on stderr and renamed `<name>.corrupt`, so it
    /// neither hides the good one again nor counts towards the kept checkpoints.
    public static func latest(in folder: String) -> (path: String, state: TrainingState)? {
        for candidate in checkpoints(in: folder).reversed() {
            do {
                return (candidate.path, try read(candidate.path))
            } catch {
                FileHandle.standardError.write(Data("lorweb: warning: skipping unreadable checkpoint \(error)\n".utf8))
                _ = rename(candidate.path, candidate.path + ".corrupt")
            }
        }
        return nil
    }

    // MARK: Internals

    /// The optimizer part of the metadata: hyperparameters, parameter order and step counts.
    struct OptimizerMetadata: Codable {
        var config: AdamWConfig
        var order: [String]
        var steps: [String: Int]

        init(_ s: AdamWState, order: [String]) {
            config = s.config
            self.order = order
            steps = s.steps
        }
    }

    private static func json(_ value: some Encodable, _ path: String) throws -> String {
        do { return try JSONFile.line(value) } catch {
            throw FormatError(path, "cannot encode checkpoint metadata: \(error)")
        }
    }

    private static func decode<T: Decodable>(_ text: String?, _ field: String, _ path: String) throws -> T {
        guard let text else { throw FormatError(path, "checkpoint metadata lacks '\(field)'") }
        do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
            throw FormatError(path, "checkpoint metadata '\(field)' is malformed: \(error)")
        }
    }

    /// FNV-1a over 32-bit words of every tensor's name, shape and float bits, in the given order.
    /// Detects damage, not tampering.
    static func checksum(_ tensors: [(String, Tensor)]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        @inline(__always) func mix(_ w: UInt32) { h = (h ^ UInt64(w)) &* 0x0000_0100_0000_01B3 }
        for (name, t) in tensors {
            for byte in name.utf8 { mix(UInt32(byte)) }
            mix(UInt32(t.rank))
            for d in t.shape { mix(UInt32(truncatingIfNeeded: d)) }
            let words = UnsafeRawPointer(t.data).assumingMemoryBound(to: UInt32.self)
            for i in 0..<t.count { mix(words[i]) }
        }
        return String(h, radix: 16)
    }
}
