import ArgumentParser
import Formats
import Foundation
import Pipeline
import Models
import Training

struct Inspect: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a safetensors file or a folder of them: format, tensors, dtypes, parameters, adapter geometry.",
        discussion: """
            Reads headers only, so even multi-gigabyte checkpoints open instantly.
            For the authors' adapter file it also reports the adapted layer count and n, r, kdim, qdim; for an ordinary
            LoRA its layers, ranks and alpha (a kohya file's per-layer .alpha scalars are read). A folder with a
            *.safetensors.index.json is one sharded model (its weight_map checked against the shards); a folder's
            adapter_config.json (PEFT) and config.json (diffusers, transformers) are reported.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A .safetensors file, or a folder: a sharded model, else every *.safetensors in it is inspected.")
    var path: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func execute() throws {
        try inspect()
    }

    private func inspect() throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw FormatError(path, "no such file or folder")
        }
        guard isFolder.boolValue else {
            let summary = SafetensorsSummary(try SafetensorsFile(path: path))
            emit(json ? Self.jsonObject(summary) : nil, text: Self.text(summary))
            return
        }
        if FileManager.default.fileExists(atPath: "\(path)/\(RunCheckpoint.configFile)") { return try inspectRun() }
        let sidecars = try Sidecars(folder: path)
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw FormatError(path, "cannot list folder: \((error as NSError).localizedDescription)")
        }
        if entries.contains(where: { $0.hasSuffix(".safetensors.index.json") }) {
            var summary = SafetensorsSummary(try SafetensorsShards.open(path).files, path: path)
            sidecars.apply(to: &summary)
            emit(json ? Self.jsonObject(summary).merging(sidecars.json) { _, new in new } : nil,
                 text: ([Self.text(summary)] + sidecars.lines).joined(separator: "\n"))
            return
        }
        let names = entries.filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !names.isEmpty else { throw FormatError(path, "folder has no .safetensors files") }
        // A bad file is reported and skipped, so one corrupt checkpoint does not hide the others;
        // the exit status still says something failed.
        var summaries: [SafetensorsSummary] = []
        var failed = false
        for name in names {
            do {
                var summary = SafetensorsSummary(try SafetensorsFile(path: "\(path)/\(name)"))
                sidecars.apply(to: &summary)
                summaries.append(summary)
            } catch {
                printError(error)
                failed = true
            }
        }
        let tensors = summaries.reduce(0) { $0 + $1.tensors }, parameters = summaries.reduce(0) { $0 + $1.parameters }
        let jsonObject: [String: Any] = [
            "format": "folder", "path": path, "files": summaries.map(Self.jsonObject),
            "tensors": tensors, "parameters": parameters,
        ].merging(sidecars.json) { _, new in new }
        let text = (summaries.map(Self.text) + sidecars.lines).joined(separator: "\n")
            + "\ntotal: \(summaries.count) file(s), \(tensors) tensors, \(grouped(parameters)) parameters"
        emit(json ? jsonObject : nil, text: text)
        if failed { throw ExitCode.failure }
    }

    /// A run folder written by `lorweb train`: its adapter file plus the hyperparameters in lorweb.json.
    private func inspectRun() throws {
        let config = try RunCheckpoint.config(in: path)
        let summary = SafetensorsSummary(try SafetensorsFile(path: "\(path)/\(RunCheckpoint.weightsFile)"))
        let a = config.adapter, b = config.base
        var object = Self.jsonObject(summary)
        object["format"] = "lorweb-run"
        object["path"] = path
        object["config"] = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(config))) ?? [:]
        let text = Self.text(summary).replacingOccurrences(of: summary.layout.title, with: "lorweb run (adapters in the release layout)")
            + "\n  adapter         heads \(a.heads), \(a.softmax ? "softmax" : "tanh"), mixing \(a.mixing.rawValue), scale \(a.scale), query \(config.queryMode.rawValue)"
            + "\n  base            Flux \(b.numLayers) double + \(b.numSingleLayers) single blocks, \(b.numAttentionHeads) x \(b.attentionHeadDim), in \(b.inChannels)"
            + config.info.sorted { $0.key < $1.key }.map { "\n  \($0.key.padding(toLength: 15, withPad: " ", startingAt: 0)) \($0.value)" }.joined()
        emit(json ? object : nil, text: text)
    }

    /// Prints the JSON object if there is one, else the text.
    private func emit(_ object: [String: Any]?, text: String) {
        guard var object else { return print(text) }
        object["lorweb_version"] = LorwebVersion.description
        // Only strings, integers, arrays and dictionaries go in, so serialisation cannot fail.
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    private static func jsonObject(_ s: SafetensorsSummary) -> [String: Any] {
        var o: [String: Any] = [
            "path": s.path, "format": s.layout.rawValue, "file_bytes": s.fileSize,
            "tensors": s.tensors, "parameters": s.parameters, "metadata": s.metadata,
            "dtypes": Dictionary(uniqueKeysWithValues: s.dtypes.map { ($0.dtype.rawValue, $0.tensors) }),
        ]
        if s.files > 1 { o["shards"] = s.files }
        if let a = s.adapter {
            o["adapted_layers"] = a.layers
            o["n"] = a.n; o["r"] = a.r; o["kdim"] = a.kdim; o["qdim"] = a.qdim
            if !a.problems.isEmpty { o["problems"] = a.problems }
        }
        if let l = s.lora {
            o["adapted_layers"] = l.layers
            o["rank_min"] = l.minRank; o["rank_max"] = l.maxRank
            if let alpha = l.alpha { o["lora_alpha"] = alpha; o["alpha_source"] = l.alphaSource ?? "" }
            if let high = l.maxAlpha { o["lora_alpha_max"] = high }
        }
        return o
    }

    private static func text(_ s: SafetensorsSummary) -> String {
        var lines = [
            s.path,
            "  format          \(s.layout.title)",
            "  file size       \(grouped(s.fileSize)) bytes" + (s.files > 1 ? " in \(s.files) shards" : ""),
            "  tensors         \(s.tensors)",
            "  dtypes          \(s.dtypes.map { "\($0.dtype.rawValue) x \($0.tensors)" }.joined(separator: ", "))",
            "  parameters      \(grouped(s.parameters))",
        ]
        if !s.metadata.isEmpty {
            lines.append("  metadata        \(s.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
        }
        if let a = s.adapter {
            lines.append("  adapted layers  \(a.layers)")
            lines.append("  basis           n \(a.n), r \(a.r), kdim \(a.kdim), qdim \(a.qdim)")
            lines += a.problems.map { "  warning         \($0)" }
        }
        if let l = s.lora {
            lines.append("  adapted layers  \(l.layers)")
            lines.append("  rank            " + (l.minRank == l.maxRank ? "\(l.minRank)" : "\(l.minRank) to \(l.maxRank)"))
            if let alpha = l.alpha, let high = l.maxAlpha {
                lines.append(String(format: "  lora_alpha      %.4g to %.4g", alpha, high) + " from \(l.alphaSource ?? "")")
            } else if let alpha = l.alpha {
                let scale = l.minRank == l.maxRank ? String(format: " (scale alpha/r %.4g)", alpha / Double(l.minRank)) : ""
                lines.append(String(format: "  lora_alpha      %.4g", alpha) + scale + " from \(l.alphaSource ?? "")")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// What a model folder's configs say: PEFT's adapter_config.json and a diffusers or transformers
/// config.json, as text lines and JSON fields.
private struct Sidecars {
    var lines: [String] = []
    var json: [String: Any] = [:]
    /// PEFT's `lora_alpha`, for LoRA files whose own metadata does not say it.
    var alpha: Double?

    init(folder: String) throws {
        if let config = try Self.object(folder + "/adapter_config.json") {
            alpha = (config["lora_alpha"] as? NSNumber)?.doubleValue
            var facts: [String: Any] = [:]
            for key in ["peft_type", "r", "lora_alpha", "target_modules", "use_rslora", "use_dora", "rank_pattern", "alpha_pattern",
                        "base_model_name_or_path"] {
                if let value = config[key], !(value is NSNull) { facts[key] = value }
            }
            if let base = (config["auto_mapping"] as? [String: Any])?["base_model_class"] as? String { facts["base_model_class"] = base }
            json["adapter_config"] = facts
            var parts = ["\(config["peft_type"] as? String ?? "PEFT adapter")"]
            if let r = config["r"] as? NSNumber { parts.append("r \(r)") }
            if let alpha { parts.append(String(format: "lora_alpha %.4g", alpha)) }
            if let modules = config["target_modules"] as? [String] {
                let shown = modules.prefix(4).joined(separator: ", ") + (modules.count > 4 ? ", ..." : "")
                parts.append("target_modules \(modules.count) (\(shown))")
            } else if let pattern = config["target_modules"] as? String {
                parts.append("target_modules \(quotedInput(pattern))")
            }
            for key in ["rank_pattern", "alpha_pattern"] {
                if let pattern = config[key] as? [String: Any], !pattern.isEmpty { parts.append("\(key) \(pattern.count)") }
            }
            if config["use_rslora"] as? Bool == true { parts.append("rsLoRA") }
            if config["use_dora"] as? Bool == true { parts.append("DoRA") }
            if let base = facts["base_model_class"] as? String { parts.append("base \(base)") }
            lines.append("  adapter_config  " + parts.joined(separator: ", "))
        }
        if let config = try Self.object(folder + "/config.json") {
            let kind = configKind(config) ?? "unlabelled"
            let sizes = ["in_channels", "out_channels", "num_layers", "num_single_layers", "hidden_size", "num_hidden_layers", "projection_dim"]
                .compactMap { key in (config[key] as? NSNumber).map { (key, $0) } }
            json["config"] = ["kind": kind].merging(sizes.map { ($0.0, $0.1 as Any) }) { first, _ in first }
            lines.append("  config.json     \(kind)" + (sizes.isEmpty ? "" : " (" + sizes.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"))
        }
    }

    /// The JSON object in `path`, or nil if there is no such file.
    private static func object(_ path: String) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let object = (try? JSONSerialization.jsonObject(with: readFileBytes(path, limit: 1 << 24))) as? [String: Any] else {
            throw FormatError(path, "not a JSON object")
        }
        return object
    }

    /// Gives a LoRA without an alpha of its own the folder's `lora_alpha`.
    func apply(to summary: inout SafetensorsSummary) {
        guard summary.lora != nil, summary.lora?.alpha == nil, let alpha else { return }
        summary.lora?.alpha = alpha
        summary.lora?.alphaSource = "adapter_config.json"
    }
}

/// 835051520 -> "835,051,520".
private func grouped(_ n: Int) -> String {
    let digits = Array(String(n.magnitude))
    let head = digits.count % 3 == 0 ? 3 : digits.count % 3
    var out = (n < 0 ? "-" : "") + String(digits[..<head])
    for i in stride(from: head, to: digits.count, by: 3) { out += "," + String(digits[i..<(i + 3)]) }
    return out
}
