import Foundation
import Testing
import TestSupport
import Formats
import Tensor
import Pipeline

// The bad-input catalogue: for every file and argument the CLI takes, the malformed versions a
// user can produce, one table per input kind. Each row runs the built binary and expects one
// error line on stderr (`lorweb: ...` containing `fragment`; before it only progress lines of
// work done before the problem showed), the exit status (1 for a bad input, 2
// for a usage error), an empty stdout for usage errors, and none of `absent` left behind
// (outputs and their temporary files), an error line of at most `maxErrorLine` characters (quoted
// input is cut), and an end within `timeout` (a special file must not block a read).
// A row is (label, arguments, status, fragment, absent);
// paths in a row are built from `Bad`, which writes every malformed file once per test run.
// New commands add their rows to the tables below, or a table of their own.

struct BadRow: CustomTestStringConvertible, Sendable {
    let label: String
    let arguments: [String]
    let status: Int32
    let fragment: String
    let absent: [String]
    /// Whether `--threads 1` is appended (not for arguments that fail before a command is known).
    let pinThreads: Bool
    /// Variables added to the binary's environment.
    let environment: [String: String]

    init(_ label: String, _ arguments: [String], _ status: Int32, _ fragment: String, absent: [String] = [], pinThreads: Bool = true,
         environment: [String: String] = [:]) {
        self.label = label; self.arguments = arguments; self.status = status; self.fragment = fragment; self.absent = absent
        self.pinThreads = pinThreads; self.environment = environment
    }

    var testDescription: String { label }

    static let maxErrorLine = 1000
    static let timeout: TimeInterval = 300

    @discardableResult
    func check(sourceLocation: SourceLocation = #_sourceLocation) throws -> Run {
        let started = try CLI.start(arguments, threads: pinThreads ? 1 : nil, environment: environment)
        let pid = started.0.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.timeout) { if started.0.isRunning { kill(pid, SIGKILL) } }
        let run = CLI.finish(started)
        #expect(!run.signalled, "\(label): still running after \(Self.timeout) s (killed)", sourceLocation: sourceLocation)
        let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect((lines.last?.count ?? 0) <= Self.maxErrorLine, "\(label): an error line of \(lines.last?.count ?? 0) characters",
                sourceLocation: sourceLocation)
        #expect(run.status == status, "\(label): exit \(run.status), stderr: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(lines.last?.hasPrefix("lorweb: ") == true && lines.dropLast().allSatisfy { $0.contains(" ETA ") },
                "\(label): not one error line: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stderr.contains(fragment), "\(label): '\(fragment)' not in: \(run.stderr)", sourceLocation: sourceLocation)
        for path in absent + Bad.leftovers(near: absent) {
            #expect(!FileManager.default.fileExists(atPath: path), "\(label): \(path) was left behind", sourceLocation: sourceLocation)
        }
        return run
    }
}

/// The malformed inputs, written once into a scratch folder.
enum Bad {
    static let root: String = try! try scratchFolder("catalogue")
    static func path(_ name: String) -> String { root + "/" + name }
    /// A fresh output path no row shares (rows run in parallel).
    static func out(_ name: String) -> String { root + "/out-" + name }

    static let adapter = Fixtures.root.path + "/formats/adapter_tiny.safetensors"
    static let clip = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/small-world/encoder").path
    static let layer = "transformer.transformer_blocks.0.attn.to_q"

    /// Temporary files a writer could leave beside `paths` (`.NAME.tmp-*`).
    static func leftovers(near paths: [String]) -> [String] {
        paths.flatMap { p -> [String] in
            let folder = (p as NSString).deletingLastPathComponent, name = (p as NSString).lastPathComponent
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return entries.filter { $0.hasPrefix("." + name + ".tmp") }.map { folder + "/" + $0 }
        }
    }

    /// Writes every file the rows use; called once.
    static let made: Bool = {
        do { try make() } catch { fatalError("cannot make the bad inputs: \(error)") }
        return true
    }()

    private static func write(_ name: String, _ bytes: [UInt8]) throws { try AtomicFile.write(bytes, to: path(name)) }
    private static func write(_ name: String, _ text: String) throws { try AtomicFile.write(Data(text.utf8), to: path(name)) }

    /// A safetensors file from a header dictionary and a data section, for headers the writer
    /// would never produce.
    private static func raw(_ name: String, header: [String: Any], data: [UInt8]) throws {
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var n = UInt64(json.count).littleEndian
        try write(name, Array(withUnsafeBytes(of: &n) { Array($0) }) + Array(json) + data)
    }

    /// Makes `name` a sparse file of `size` bytes: the size a header may be checked against costs no disk.
    private static func extend(_ name: String, to size: Int) throws {
        guard truncate(path(name), off_t(size)) == 0 else { throw FormatError(path(name), "truncate failed: \(String(cString: strerror(errno)))") }
    }

    /// Where the JPEG marker 0xFF `code` starts in `bytes`.
    private static func marker(_ code: UInt8, in bytes: [UInt8]) throws -> Int {
        guard let at = bytes.indices.dropLast().first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == code }) else {
            throw FormatError("<jpeg>", "no marker 0xFF\(String(code, radix: 16, uppercase: true))")
        }
        return at
    }

    /// `file` with the header's dtype of `tensor` replaced by `dtype` (of the same width).
    private static func retyped(_ name: String, from file: Data, tensor: String, to dtype: String) throws {
        let length = Int(file.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var header = try JSONSerialization.jsonObject(with: file.subdata(in: 8..<(8 + length))) as! [String: Any]
        var entry = header[tensor] as! [String: Any]
        entry["dtype"] = dtype
        header[tensor] = entry
        try raw(name, header: header, data: Array(file.suffix(from: 8 + length)))
    }

    /// The tiny adapter with `change` applied to its tensors.
    private static func adapterVariant(_ name: String, _ change: (inout [String: Tensor]) -> Void) throws {
        var tensors = try SafetensorsFile(path: adapter).allTensors().mapValues { Tensor(shape: $0.shape, data: $0.toArray()) }
        change(&tensors)
        try Safetensors.write(tensors, dtype: .f32, to: path(name))
    }

    private static func make() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: adapter))
        try write("empty.safetensors", [])
        try write("truncated-header.safetensors", Array(good.prefix(100)))
        try write("truncated-data.safetensors", Array(good.prefix(good.count - 64)))
        try write("text.safetensors", "these are not the weights you are looking for\n")
        try write("png.safetensors", Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.root.path + "/images/grid_a.png"))))
        try retyped("int16.safetensors", from: good, tensor: "\(layer).lora_keys", to: "I16")
        try raw("petabytes.safetensors", header: ["w": ["dtype": "F32", "shape": [1 << 48], "data_offsets": [0, 1 << 50]]], data: [0, 0, 0, 0])
        try raw("huge-length.safetensors", header: [:], data: [])
        var lying = try Data(contentsOf: URL(fileURLWithPath: path("huge-length.safetensors")))
        lying.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 0, 0x40])
        try AtomicFile.write(lying, to: path("huge-length.safetensors"))
        try adapterVariant("nan-lora-b.safetensors") { t in t["\(layer).lora_B"]!.data[3] = .nan }
        try adapterVariant("inf-keys.safetensors") { t in t["\(layer).lora_keys"]!.data[0] = -.infinity }
        try adapterVariant("flat-lora-a.safetensors") { t in
            let a = t["\(layer).lora_A"]!
            t["\(layer).lora_A"] = Tensor(shape: [a.shape[0], a.shape[1] * a.shape[2]], data: a.toArray())
        }
        try adapterVariant("missing-keys.safetensors") { t in t["\(layer).lora_keys"] = nil }
        try adapterVariant("no-layers.safetensors") { t in t = ["unrelated.weight": Tensor(shape: [2], data: [1, 2])] }
        // Ordinary LoRAs (`lora`): q.safetensors of the fixtures adapts this layer at 256 x 256.
        let q = "transformer_blocks.0.attn.to_q"
        try Safetensors.write(["\(q).lora_A.weight": Tensor.zeros([2, 512]), "\(q).lora_B.weight": Tensor.ones([256, 2])], to: path("lora-wide.safetensors"))
        try Safetensors.write(["\(q).lora_A.weight": Tensor.ones([2, 256])], to: path("lora-no-up.safetensors"))
        try Safetensors.write(["\(q).lora_A.weight": Tensor.ones([2, 256]), "\(q).lora_B.weight": Tensor.ones([256, 3])],
                              to: path("lora-ranks-disagree.safetensors"))
        try FileManager.default.createDirectory(atPath: path("lora-bad-config"), withIntermediateDirectories: true)
        try Safetensors.write(["base_model.model.\(q).lora_A.weight": Tensor.ones([2, 256]), "base_model.model.\(q).lora_B.weight": Tensor.ones([256, 2])],
                              to: path("lora-bad-config/adapter_model.safetensors"))
        try write("lora-bad-config/adapter_config.json", "{\"r\": 2, \"lora_alpha\": ")
        try FileManager.default.createDirectory(atPath: path("lora-wrong-rank"), withIntermediateDirectories: true)
        try Safetensors.write(["base_model.model.\(q).lora_A.weight": Tensor.ones([2, 256]), "base_model.model.\(q).lora_B.weight": Tensor.ones([256, 2])],
                              to: path("lora-wrong-rank/adapter_model.safetensors"))
        try write("lora-wrong-rank/adapter_config.json", "{\"r\": 8, \"lora_alpha\": 8, \"rank_pattern\": {\"attn.to_q\": 4}}")
        try FileManager.default.createDirectory(atPath: path("empty-folder"), withIntermediateDirectories: true)
        // Sharded PEFT folders whose index does not fit its shards: one shard gone, and a tensor
        // mapped to a shard that does not hold it.
        let sharded = Fixtures.root.path + "/lora/set/p-sharded", index = "adapter_model.safetensors.index.json"
        for name in ["sharded-missing", "sharded-mismapped"] {
            try? FileManager.default.removeItem(atPath: path(name))
            try FileManager.default.copyItem(atPath: sharded, toPath: path(name))
        }
        try FileManager.default.removeItem(atPath: path("sharded-missing/adapter_model-00003-of-00005.safetensors"))
        var mapped = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sharded + "/" + index))) as! [String: Any]
        var weightMap = mapped["weight_map"] as! [String: String]
        weightMap["base_model.model.transformer_blocks.0.attn.to_q.lora_A.weight"] = "adapter_model-00002-of-00005.safetensors"
        mapped["weight_map"] = weightMap
        try AtomicFile.write(JSONSerialization.data(withJSONObject: mapped), to: path("sharded-mismapped/" + index))

        // Coefficients (.npy) for an adapter with n = 4 and 3 layers.
        try NPY.write(Tensor(shape: [4], data: [0.1, 0.2, 0.3, 0.4]), to: path("coeffs-good.npy"))
        try NPY.write(Tensor(shape: [5], data: [1, 1, 1, 1, 1]), to: path("coeffs-n5.npy"))
        try NPY.write(Tensor(shape: [2, 4], data: [Float](repeating: 1, count: 8)), to: path("coeffs-2layers.npy"))
        try NPY.write(Tensor(shape: [4], data: [0.1, .nan, 0.3, 0.4]), to: path("coeffs-nan.npy"))
        try NPY.write(Tensor(shape: [4], data: [0.1, .infinity, 0.3, 0.4]), to: path("coeffs-inf.npy"))
        try write("coeffs-empty.npy", [])
        try write("coeffs-text.npy", "0.25 0.25 0.25 0.25\n")
        let npy = try Data(contentsOf: URL(fileURLWithPath: path("coeffs-good.npy")))
        try write("coeffs-truncated.npy", Array(npy.prefix(npy.count - 3)))
        var int32 = npy
        if let r = int32.range(of: Data("<f4".utf8)) { int32.replaceSubrange(r, with: Data("<i4".utf8)) }
        try AtomicFile.write(int32, to: path("coeffs-int32.npy"))
        // Sparse files of a terabyte (no disk blocks): one whose header declares 4 values, one
        // whose header declares all of it. Both must be refused without reading the file.
        try AtomicFile.write(npy, to: path("coeffs-sparse.npy"))
        try extend("coeffs-sparse.npy", to: 1 << 40)
        var declared = npy, huge = "(\((1 << 40 - npy.count + 16) / 4),), }"
        guard let shape = declared.range(of: Data("(4,), }".utf8)) else { throw FormatError(path("coeffs-good.npy"), "no shape (4,)") }
        declared.replaceSubrange(shape.lowerBound..<(shape.lowerBound + huge.utf8.count), with: Data(huge.utf8))
        try AtomicFile.write(declared, to: path("coeffs-sparse-declared.npy"))
        try extend("coeffs-sparse-declared.npy", to: 1 << 40)

        // Images for the analogy (export-lora --a/--a-prime/--b).
        try Image(width: 8, height: 8, color: [10, 20, 30]).write(to: path("good.png"))
        try Image(width: 13, height: 5, color: [10, 20, 30]).write(to: path("other-size.png"))
        try Image(width: 2, height: 2, color: [10, 20, 30]).write(to: path("speck.png"))
        let png = try Data(contentsOf: URL(fileURLWithPath: path("good.png")))
        try write("empty.png", [])
        try write("truncated.png", Array(png.prefix(png.count / 2)))
        try write("text.png", "not a picture\n")
        try write("huge.png", pngDeclaring(width: 100_000, height: 100_000))
        try write("truncated.jpg", [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 0x4A, 0x46])
        try write("bomb.png", pngDeclaring(width: 16384, height: 16384))
        // An 8x8 PNG whose IDAT holds no rows, and the same without its IDAT chunk (signature 8
        // and IHDR 25 bytes, then the 23-byte IDAT).
        let empty = pngDeclaring(width: 8, height: 8)
        try write("short-idat.png", empty)
        try write("no-idat.png", Array(empty[..<33] + empty[56...]))
        try AtomicFile.write(png, to: path("sparse.png"))
        try extend("sparse.png", to: 1 << 40)
        // JPEGs whose scan data stops at an EOI marker: half of it, none of it, and none of it
        // under a header declaring 16384 x 16384 (libjpeg would pad all three with grey).
        let gradient = Image(width: 64, height: 64, channels: 3, pixels: (0..<64 * 64 * 3).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let jpeg = Array(try gradient.encoded(as: .jpeg))
        let sos = try marker(0xDA, in: jpeg)
        let scan = sos + 2 + Int(jpeg[sos + 2]) << 8 + Int(jpeg[sos + 3])
        try write("cut-scan.jpg", Array(jpeg[..<(scan + (jpeg.count - 2 - scan) / 2)]) + [0xFF, 0xD9])
        try write("no-scan.jpg", Array(jpeg[..<scan]) + [0xFF, 0xD9])
        var bomb = Array(jpeg[..<scan]) + [0xFF, 0xD9]
        let sof = try marker(0xC0, in: bomb)
        bomb.replaceSubrange((sof + 5)..<(sof + 9), with: [0x40, 0, 0x40, 0])
        try write("bomb.jpg", bomb)

        // CLIP folders.
        for name in ["clip-no-config", "clip-bad-json", "clip-nan", "clip-truncated"] {
            try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: true)
        }
        let config = try Data(contentsOf: URL(fileURLWithPath: clip + "/config.json"))
        let weights = try Data(contentsOf: URL(fileURLWithPath: clip + "/model.safetensors"))
        try AtomicFile.write(weights, to: path("clip-no-config/model.safetensors"))
        try write("clip-bad-json/config.json", "{ \"hidden_size\": 64,")
        try AtomicFile.write(weights, to: path("clip-bad-json/model.safetensors"))
        try AtomicFile.write(config, to: path("clip-truncated/config.json"))
        try AtomicFile.write(weights.prefix(weights.count / 2), to: path("clip-truncated/model.safetensors"))
        try AtomicFile.write(config, to: path("clip-nan/config.json"))
        let encoder = try SafetensorsFile(path: clip + "/model.safetensors").allTensors().mapValues { Tensor(shape: $0.shape, data: $0.toArray()) }
        encoder["vision_model.post_layernorm.weight"]!.data[0] = .nan
        try Safetensors.write(encoder, to: path("clip-nan/model.safetensors"))

        // Diffusers Flux folders of another token width (a stock FLUX.1 takes 64, a 16-channel
        // VAE latent unpacked 16): refused from config.json alone, so they need no weights.
        let baseConfig = URL(fileURLWithPath: clip).deletingLastPathComponent().appendingPathComponent("base/config.json")
        for channels in [16, 64] {
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: baseConfig)) as! [String: Any]
            json["in_channels"] = channels
            try FileManager.default.createDirectory(atPath: path("flux-in\(channels)"), withIntermediateDirectories: true)
            try AtomicFile.write(JSONSerialization.data(withJSONObject: json), to: path("flux-in\(channels)/config.json"))
        }

        // ai-toolkit config.yaml variants (export-lora --config).
        let yaml = try String(contentsOfFile: Fixtures.root.path + "/formats/config.yaml", encoding: .utf8)
        try write("config-empty.yaml", "")
        try write("config-not-yaml.yaml", "config: [unclosed\n")
        try write("config-no-loras-num.yaml", yaml.replacingOccurrences(of: "loras_num: 32", with: "loras_number: 32"))
        try write("config-heads.yaml", yaml.replacingOccurrences(of: "lora_heads: 1", with: "lora_heads: 3"))
        try write("config-list-key.yaml", "? [a]\n: b\n")

        // Data folders for the pretraining commands.
        for name in ["data-no-manifest", "data-bad-manifest"] {
            try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: true)
        }
        try write("data-bad-manifest/manifest.json", "{\"families\": 3")

        // Run folders for the commands that generate (edit, eval, interpolate, report).
        let shipped = URL(fileURLWithPath: clip).deletingLastPathComponent().path
        let runJSON = try String(contentsOfFile: shipped + "/lorweb/lorweb.json", encoding: .utf8)
            .replacingOccurrences(of: "\"../base\"", with: "\"\(shipped)/base\"")
            .replacingOccurrences(of: "\"../encoder\"", with: "\"\(shipped)/encoder\"")
        for name in ["run-bad-json", "run-no-base", "run-truncated", "run-nan"] {
            try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: true)
        }
        try write("run-bad-json/lorweb.json", "{ \"adapter\": ")
        try write("run-no-base/lorweb.json", runJSON.replacingOccurrences(of: shipped + "/base", with: path("no-such-base")))
        let adapters = try Data(contentsOf: URL(fileURLWithPath: shipped + "/lorweb/adapters.safetensors"))
        try write("run-truncated/lorweb.json", runJSON)
        try AtomicFile.write(adapters.prefix(adapters.count / 2), to: path("run-truncated/adapters.safetensors"))
        try write("run-nan/lorweb.json", runJSON)
        let nan = try SafetensorsFile(path: shipped + "/lorweb/adapters.safetensors").allTensors().mapValues { Tensor(shape: $0.shape, data: $0.toArray()) }
        nan["\(layer).lora_B"]!.data[0] = Float.nan
        try Safetensors.write(nan, to: path("run-nan/adapters.safetensors"))

        // Triplet lists (edit --triplets, eval --data, coeffs --triplets).
        try write("list-empty.csv", "")
        try write("list-no-columns.csv", "id,a\nx,good.png\n")
        try write("list-missing-image.csv", "id,a,a_prime,b,b_prime\nx,good.png,good.png,good.png,good.png\ny,good.png,missing.png,good.png,good.png\n")
        try write("list-no-truth.csv", "id,a,a_prime,b\nx,good.png,good.png,good.png\n")
        try write("list-text-image.csv", "id,a,a_prime,b,b_prime\nx,good.png,text.png,good.png,good.png\n")
        try write("list-duplicate-ids.csv", "id,a,a_prime,b\nx,good.png,good.png,good.png\nx,good.png,good.png,good.png\n")
        // Lists past CSV.Limits, refused while read: a row too many, a line of 64 MB (sparse, so
        // NUL bytes, which no newline ends) and a sparse terabyte refused by its size.
        try write("list-million-rows.csv", "a,a_prime,b\n" + String(repeating: "x,y,z\n", count: 1_000_001))
        try write("list-giant-line.csv", "a,a_prime,b\n")
        try extend("list-giant-line.csv", to: 64 << 20)
        try write("list-terabyte.csv", "a,a_prime,b\n")
        try extend("list-terabyte.csv", to: 1 << 40)

        // Coefficients for the shipped model's PCA: [triplets, 52 layers, 32].
        let coefficients = Tensor(shape: [2, 52, 32], data: [Float](repeating: 1.0 / 32, count: 2 * 52 * 32))
        try NPY.write(coefficients, to: path("coeffs-shipped.npy"))
        coefficients.data[5] = .nan
        try NPY.write(coefficients, to: path("coeffs-shipped-nan.npy"))

        // A small world for train, eval, coeffs and report.
        let synth = try CLI.run(["synth", "--out", path("world"), "--train", "4", "--eval", "4", "--seed", "3"])
        guard synth.status == 0 else { throw FormatError(path("world"), "synth failed: \(synth.stderr)") }

        // Batch edits whose outputs would leave --out-dir, repeat, or replace an input (edit --triplets).
        let triplet = "good.png,good.png,good.png"
        try write("list-id-parent.csv", "id,a,a_prime,b\n../escaped-id,\(triplet)\n")
        try write("list-id-absolute.csv", "id,a,a_prime,b\n\(path("abs-id")),\(triplet)\n")
        try write("list-out-absolute.csv", "id,a,a_prime,b,out\nx,\(triplet),\(path("escaped-abs.png"))\n")
        try write("list-out-parent.csv", "id,a,a_prime,b,out\nx,\(triplet),sub/../../escaped-parent.png\n")
        try write("list-out-duplicate.csv", "id,a,a_prime,b,out\nx,\(triplet),same.png\ny,\(triplet),same.png\n")
        try Image(width: 8, height: 8, color: [10, 20, 30]).write(to: path("victim.png"))
        try write("list-out-replaces-input.csv", "id,a,a_prime,b,out\nx,\(triplet),victim.png\ny,good.png,good.png,victim.png,y.png\n")
        try FileManager.default.createDirectory(atPath: path("escape-target"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path("edit-links"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path("edit-links/escape"), withDestinationPath: path("escape-target"))
        try write("list-out-symlink.csv", "id,a,a_prime,b,out\nx,\(triplet),escape/escaped-link.png\n")
        try write("list-long-header.csv", "a," + String(repeating: "x", count: 100_000) + "\n1,2\n")

        // Side outputs that would replace an input: coeffs' FILE.csv, eval's figure, interpolate's
        // .svg, a report folder holding its list.
        try write("side-list.csv", "id,a,a_prime,b\nx,\(triplet)\n")
        try Image(width: 8, height: 8, color: [10, 20, 30]).write(to: path("fig-b.png"))
        try write("eval-figure.csv", "id,a,a_prime,b,b_prime\nx,good.png,good.png,fig-b.png,good.png\n")
        try Image(width: 8, height: 8, color: [10, 20, 30]).write(to: path("strip-b.png"))
        try FileManager.default.createDirectory(atPath: path("report-in"), withIntermediateDirectories: true)
        try write("report-in/coeffs.csv", "id,a,a_prime,b\nx,../good.png,../good.png,../good.png\ny,../good.png,../good.png,../good.png\n")

        // Finished runs (train, pretrain-encoder, pretrain-base refuse them without --resume or --force).
        for name in ["finished-run", "finished-encoder/encoder", "finished-base/base"] {
            try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: true)
        }
        try write("finished-run/lorweb.json", "{}")
        try write("finished-encoder/encoder/model.safetensors", "")
        try write("finished-base/base/diffusion_pytorch_model.safetensors", "")

        // Special files: FIFOs (an open would wait for a writer for ever), one inside a folder.
        try FileManager.default.createDirectory(atPath: path("fifo-folder"), withIntermediateDirectories: true)
        for name in ["fifo.png", "fifo.npy", "fifo.csv", "fifo-folder/x.safetensors"] {
            guard mkfifo(path(name), 0o644) == 0 else { throw FormatError(path(name), "mkfifo failed") }
        }

        // A read-only folder and a file where a folder is expected.
        try FileManager.default.createDirectory(atPath: path("read-only"), withIntermediateDirectories: true)
        chmod(path("read-only"), 0o555)
        try write("a-file", "x")
    }

    /// Whether this process can write into a folder without write permission (root can): the
    /// read-only rows are then meaningless and are skipped.
    static let writesIgnorePermissions: Bool = {
        _ = made
        let probe = path("read-only/probe")
        guard FileManager.default.createFile(atPath: probe, contents: Data()) else { return false }
        unlink(probe)
        return true
    }()
}

// MARK: - The tables

enum Catalogue {
    static let A = Bad.adapter

    /// `--model` / `inspect FILE`: safetensors adapter files.
    static let models: [BadRow] = {
        _ = Bad.made
        var rows: [BadRow] = []
        let cases: [(String, String)] = [
            ("empty.safetensors", "too short for a safetensors header"),
            ("truncated-header.safetensors", "file truncated?"),
            ("truncated-data.safetensors", "outside the data section"),
            ("text.safetensors", "not a safetensors file?"),
            ("png.safetensors", "exceeds the 100000000-byte limit"),
            ("petabytes.safetensors", "outside the data section"),
            ("huge-length.safetensors", "exceeds the 100000000-byte limit"),
            ("int16.safetensors", "is stored as I16; weights must be a floating-point dtype"),
            ("nan-lora-b.safetensors", "holds nan"),
            ("inf-keys.safetensors", "holds -inf"),
            ("flat-lora-a.safetensors", "lora_A"),
            ("missing-keys.safetensors", "lora_keys"),
            ("no-layers.safetensors", "holds no LoRA-basis layers"),
            ("empty-folder", "no lorweb.json"),
            ("missing.safetensors", "no such file"),
        ]
        // keygraph reads only the keys, so damage elsewhere in an adapter does not concern it.
        let notKeys: Set = ["nan-lora-b", "flat-lora-a"]
        for (file, fragment) in cases {
            let model = Bad.path(file), tag = (file as NSString).deletingPathExtension
            rows.append(BadRow("basis \(tag)", ["basis", "--model", model, "--out", Bad.out("basis-\(tag)")], 1, fragment,
                               absent: [Bad.out("basis-\(tag)")]))
            rows.append(BadRow("svd \(tag)", ["svd", "--model", model, "--out", Bad.out("svd-\(tag)")], 1, fragment,
                               absent: [Bad.out("svd-\(tag)")]))
            if !notKeys.contains(tag) { rows.append(BadRow("keygraph \(tag)", ["keygraph", "--model", model, "--out", Bad.out("kg-\(tag).svg")], 1, fragment,
                               absent: [Bad.out("kg-\(tag).svg"), Bad.out("kg-\(tag).dot")])) }
            rows.append(BadRow("export-lora \(tag)", ["export-lora", "--model", model, "--coeffs", "uniform", "--out", Bad.out("ex-\(tag).safetensors")],
                               1, fragment, absent: [Bad.out("ex-\(tag).safetensors"), Bad.out("ex-\(tag).errors.csv")]))
        }
        for file in ["empty.safetensors", "truncated-header.safetensors", "text.safetensors", "huge-length.safetensors", "missing.safetensors"] {
            rows.append(BadRow("inspect \(file)", ["inspect", Bad.path(file)], 1, Bad.path(file) + ": "))
        }
        let shards: [(String, String)] = [
            ("sharded-missing", Bad.path("sharded-missing/adapter_model-00003-of-00005.safetensors")
                + ": is listed in adapter_model.safetensors.index.json but missing"),
            ("sharded-mismapped", Bad.path("sharded-mismapped/adapter_model-00002-of-00005.safetensors")
                + ": lacks tensor \"base_model.model.transformer_blocks.0.attn.to_q.lora_A.weight\", which adapter_model.safetensors.index.json maps to it"),
        ]
        for (folder, fragment) in shards {
            rows.append(BadRow("inspect \(folder)", ["inspect", Bad.path(folder)], 1, fragment))
            rows.append(BadRow("lora \(folder)", ["lora", Bad.path(folder), "--out", Bad.out("lora-\(folder)")], 1, fragment,
                               absent: [Bad.out("lora-\(folder)")]))
        }
        return rows
    }()

    /// `--coeffs` of svd, export-lora and keygraph.
    static let coefficients: [BadRow] = {
        _ = Bad.made
        let cases: [(String, String)] = [
            (Bad.path("coeffs-empty.npy"), "not an NPY file"),
            (Bad.path("coeffs-text.npy"), "not an NPY file"),
            (Bad.path("coeffs-truncated.npy"), "needs 16"),
            (Bad.path("coeffs-int32.npy"), "dtype '<i4' is not supported"),
            (Bad.path("coeffs-n5.npy"), "5"),
            (Bad.path("coeffs-2layers.npy"), "[2, 4]"),
            (Bad.path("coeffs-nan.npy"), "nan"),
            (Bad.path("coeffs-inf.npy"), "inf"),
            (Bad.path("missing.npy"), "No such file or directory"),
            (Bad.path("coeffs-sparse.npy"), "data holds 1099511627648 bytes but shape [4] of '<f4' needs 16"),
            (Bad.path("coeffs-sparse-declared.npy"), "read as float32 would need 2199.0 GB of memory, more than"),
            ("onehot:4", "only 4 elements"),
            ("onehot:-1", "onehot:-1"),
            ("softmax", "softmax"),
        ]
        var rows: [BadRow] = []
        for (i, (spec, fragment)) in cases.enumerated() {
            rows.append(BadRow("svd --coeffs \(spec)", ["svd", "--model", A, "--coeffs", spec, "--out", Bad.out("svd-c\(i)")], 1, fragment,
                               absent: [Bad.out("svd-c\(i)")]))
            rows.append(BadRow("export-lora --coeffs \(spec)", ["export-lora", "--model", A, "--coeffs", spec, "--out", Bad.out("ex-c\(i).safetensors")],
                               1, fragment, absent: [Bad.out("ex-c\(i).safetensors")]))
            if spec.hasSuffix(".npy") {
                rows.append(BadRow("keygraph --coeffs \(spec)", ["keygraph", "--model", A, "--coeffs", spec, "--out", Bad.out("kg-c\(i).svg")],
                                   1, fragment, absent: [Bad.out("kg-c\(i).svg"), Bad.out("kg-c\(i).dot")]))
            }
        }
        return rows
    }()

    /// `--a`, `--a-prime`, `--b` (images) and `--clip` (a CLIP folder) of export-lora.
    static let analogy: [BadRow] = {
        _ = Bad.made
        let good = Bad.path("good.png")
        func row(_ label: String, a: String = good, aPrime: String = good, b: String = good, clip: String = Bad.clip,
                 _ fragment: String) -> BadRow {
            let out = Bad.out("ex-\(label.filter { $0.isLetter || $0.isNumber }).safetensors")
            return BadRow("export-lora \(label)", ["export-lora", "--model", A, "--a", a, "--a-prime", aPrime, "--b", b, "--clip", clip, "--out", out],
                          1, fragment, absent: [out])
        }
        return [
            row("empty a", a: Bad.path("empty.png"), Bad.path("empty.png") + ": empty file"),
            row("truncated a'", aPrime: Bad.path("truncated.png"), Bad.path("truncated.png") + ": invalid PNG"),
            row("text b", b: Bad.path("text.png"), Bad.path("text.png") + ": not a PNG or JPEG"),
            row("truncated JPEG b", b: Bad.path("truncated.jpg"), Bad.path("truncated.jpg") + ": invalid JPEG"),
            row("100k x 100k b", b: Bad.path("huge.png"), "100000x100000 pixels exceeds the limit"),
            row("16384 x 16384 PNG a", a: Bad.path("bomb.png"),
                Bad.path("bomb.png") + ": PNG image of 16384x16384 pixels exceeds the limit of 16777216 pixels (raise it with --max-pixels"),
            row("16384 x 16384 JPEG b", b: Bad.path("bomb.jpg"), Bad.path("bomb.jpg") + ": JPEG image of 16384x16384 pixels exceeds the limit"),
            row("PNG with an empty IDAT b", b: Bad.path("short-idat.png"), Bad.path("short-idat.png") + ": invalid PNG: Not enough image data"),
            row("PNG without IDAT a", a: Bad.path("no-idat.png"), Bad.path("no-idat.png") + ": invalid PNG"),
            row("JPEG scan cut short a'", aPrime: Bad.path("cut-scan.jpg"), Bad.path("cut-scan.jpg") + ": invalid JPEG: Corrupt JPEG data"),
            row("JPEG without scan data a", a: Bad.path("no-scan.jpg"), Bad.path("no-scan.jpg") + ": invalid JPEG: Corrupt JPEG data"),
            row("sparse 1 TB PNG b", b: Bad.path("sparse.png"), Bad.path("sparse.png") + ": reading the file would need 1099.5 GB of memory, more than"),
            row("missing a", a: Bad.path("missing.png"), Bad.path("missing.png") + ": cannot open"),
            row("folder a", a: Bad.path("empty-folder"), "is a directory"),
            row("clip missing", clip: Bad.path("no-such-clip"), "no-such-clip"),
            row("clip without config", clip: Bad.path("clip-no-config"), "config.json"),
            row("clip config not JSON", clip: Bad.path("clip-bad-json"), "config.json"),
            row("clip truncated weights", clip: Bad.path("clip-truncated"), "model.safetensors"),
            row("clip NaN weight", clip: Bad.path("clip-nan"), "vision_model.post_layernorm.weight' holds nan"),
            // The shipped encoder's 192-value query does not fit the tiny adapter's 12.
            row("clip of the wrong width", "the adapters expect 12"),
            row("mismatched image sizes", aPrime: Bad.path("other-size.png"), "the adapters expect 12"),
            row("a too wide for the query crops", a: Bad.path("other-size.png"), "need a width of at most twice the height"),
        ]
    }()

    /// `--config` (ai-toolkit config.yaml) of export-lora.
    static let configs: [BadRow] = {
        _ = Bad.made
        let cases: [(String, String)] = [
            ("config-empty.yaml", "expected a mapping, found nothing"),
            ("config-not-yaml.yaml", "not valid YAML"),
            ("config-no-loras-num.yaml", "network_kwargs.loras_num: missing"),
            ("config-heads.yaml", "3 heads do not divide lora_keys_dim"),
            ("config-list-key.yaml", "a mapping key is a list"),
            ("missing.yaml", "No such file or directory"),
        ]
        return cases.map { file, fragment in
            let out = Bad.out("ex-\(file).safetensors")
            return BadRow("export-lora --config \(file)", ["export-lora", "--model", A, "--config", Bad.path(file), "--a", Bad.path("good.png"),
                                                            "--a-prime", Bad.path("good.png"), "--b", Bad.path("good.png"), "--clip", Bad.clip, "--out", out],
                          1, fragment, absent: [out])
        }
    }()

    /// `--data` of the pretraining commands.
    static let data: [BadRow] = {
        _ = Bad.made
        let cases: [(String, String)] = [
            ("missing-data", "manifest"),
            ("data-no-manifest", "manifest"),
            ("data-bad-manifest", "manifest"),
            ("a-file", "manifest"),
        ]
        let rows = ["pretrain-encoder", "pretrain-base"].flatMap { command in
            cases.map { folder, fragment in
                let out = Bad.out("\(command)-\(folder)")
                return BadRow("\(command) --data \(folder)", [command, "--data", Bad.path(folder), "--out", out, "--steps", "1", "--batch", "2"],
                              1, fragment, absent: [out])
            }
        }
        // A second stage must start from a base the codec fits, refused before the folder is used.
        let misfits: [(String, String, String)] = [
            ("a CLIP folder", Bad.clip, "config.json: is a transformers CLIPVisionModelWithProjection config, not a diffusers FluxTransformer2DModel config"),
            ("a Flux with in_channels 16", Bad.path("flux-in16"), "in_channels 16, out_channels 16: lorweb's space-to-depth codec makes 192-d tokens"),
        ]
        return rows + misfits.enumerated().map { i, misfit in
            let out = Bad.out("pretrain-base-from-\(i)")
            return BadRow("pretrain-base --from \(misfit.0)", ["pretrain-base", "--data", Bad.path("world"), "--out", out, "--from", misfit.1,
                                                               "--steps", "1", "--batch", "2"], 1, misfit.2, absent: [out])
        }
    }()

    /// `--out` of every command: a missing folder, a file where a folder must be, an input.
    static let outputs: [BadRow] = {
        _ = Bad.made
        let missing = Bad.path("no-such-folder")
        return [
            BadRow("synth into a missing folder", ["synth", "--out", missing + "/world", "--train", "2", "--eval", "0"], 1, "does not exist", absent: [missing]),
            BadRow("basis into a missing folder", ["basis", "--model", A, "--out", missing + "/basis"], 1, "does not exist", absent: [missing]),
            BadRow("svd into a missing folder", ["svd", "--model", A, "--out", missing + "/svd"], 1, "does not exist", absent: [missing]),
            BadRow("keygraph into a missing folder", ["keygraph", "--model", A, "--out", missing + "/kg.svg"], 1, "does not exist", absent: [missing]),
            BadRow("export-lora into a missing folder", ["export-lora", "--model", A, "--coeffs", "uniform", "--out", missing + "/x.safetensors"], 1,
                   "does not exist", absent: [missing]),
            BadRow("pretrain-encoder into a missing folder", ["pretrain-encoder", "--data", Bad.path("data-no-manifest"), "--out", missing + "/run"], 1,
                   "does not exist", absent: [missing]),
            BadRow("basis into a file", ["basis", "--model", A, "--out", Bad.path("a-file") + "/basis"], 1, "is not a folder"),
            BadRow("export-lora over its model", ["export-lora", "--model", A, "--coeffs", "uniform", "--out", A], 1, "is also an input"),
            BadRow("export-lora over its coefficients", ["export-lora", "--model", A, "--coeffs", Bad.path("coeffs-good.npy"), "--out",
                                                         Bad.path("coeffs-good.npy")], 1, "is also an input"),
            BadRow("svd over its model", ["svd", "--model", A, "--out", A], 1, "is also an input"),
            BadRow("basis over its model", ["basis", "--model", A, "--out", A], 1, "is also an input"),
            BadRow("keygraph over its coefficients", ["keygraph", "--model", A, "--coeffs", Bad.path("coeffs-good.npy"), "--out",
                                                      Bad.path("coeffs-good.npy")], 1, "is also an input"),
            BadRow("pretrain-encoder into its data", ["pretrain-encoder", "--data", Bad.path("data-no-manifest"), "--out", Bad.path("data-no-manifest")],
                   1, "is also an input"),
            BadRow("keygraph to a .txt", ["keygraph", "--model", A, "--out", Bad.out("kg.txt")], 1, "must end in .svg or .png",
                   absent: [Bad.out("kg.txt"), Bad.out("kg.dot")]),
        ]
    }()

    /// The generating commands' inputs: `--model` run folders, `--data` / `--triplets` lists
    /// and worlds, images, coefficients, and their outputs.
    static let pipeline: [BadRow] = {
        _ = Bad.made
        let world = Bad.path("world"), good = Bad.path("good.png"), missing = Bad.path("no-such-folder")
        func edit(_ label: String, model: String? = nil, a: String = good, aPrime: String = good, b: String = good,
                  out: String? = nil, status: Int32 = 1, _ fragment: String) -> BadRow {
            let target = out ?? Bad.out("edit-\(label.filter { $0.isLetter || $0.isNumber }).png")
            return BadRow("edit \(label)", ["edit"] + (model.map { ["--model", $0] } ?? []) + ["--a", a, "--a-prime", aPrime, "--b", b,
                                                                                            "--out", target, "--steps", "1"],
                          status, fragment, absent: out == nil ? [target] : [])
        }
        func list(_ command: String, _ file: String, _ fragment: String) -> BadRow {
            let out = Bad.out("\(command)-\(file)")
            let arguments: [String]
            switch command {
            case "edit": arguments = ["edit", "--triplets", Bad.path(file), "--out-dir", out, "--steps", "1"]
            case "eval": arguments = ["eval", "--data", Bad.path(file), "--out", out + ".json", "--steps", "1"]
            default: arguments = ["coeffs", "--triplets", Bad.path(file), "--out", out + ".npy"]
            }
            return BadRow("\(command) \(file)", arguments, 1, fragment, absent: [out, out + ".json", out + ".png", out + ".npy", out + ".csv"])
        }
        var rows = [
            edit("run folder without lorweb.json", model: Bad.path("empty-folder"), "not a lorweb run folder (no lorweb.json)"),
            edit("lorweb.json not JSON", model: Bad.path("run-bad-json"), Bad.path("run-bad-json/lorweb.json") + ": not a lorweb run config"),
            edit("run whose base is missing", model: Bad.path("run-no-base"), Bad.path("no-such-base")),
            edit("truncated adapters", model: Bad.path("run-truncated"), Bad.path("run-truncated/adapters.safetensors")),
            edit("NaN in the adapters", model: Bad.path("run-nan"), "lora_B' holds nan"),
            edit("adapter file as --model", model: A, "is a file; generating images needs a run folder"),
            edit("text a'", aPrime: Bad.path("text.png"), Bad.path("text.png") + ": not a PNG or JPEG"),
            edit("truncated a", a: Bad.path("truncated.png"), Bad.path("truncated.png") + ": invalid PNG"),
            edit("100k x 100k b", b: Bad.path("huge.png"), "100000x100000 pixels exceeds the limit"),
            edit("missing b", b: Bad.path("missing.png"), Bad.path("missing.png") + ": cannot open"),
            edit("a too wide for the query crops", a: Bad.path("other-size.png"), "need a width of at most twice the height"),
            edit("output .txt", out: Bad.out("edit.txt"), "unsupported image extension"),
            edit("output over its input", out: good, "is also an input"),
            edit("output into a missing folder", out: missing + "/b.png", "does not exist"),
            BadRow("edit --out-dir in a missing folder", ["edit", "--triplets", Bad.path("list-no-truth.csv"), "--out-dir", missing + "/edits"], 1,
                   "does not exist", absent: [missing]),
            BadRow("train --data without control/", ["train", "--data", Bad.path("empty-folder"), "--out", Bad.out("train-a"), "--steps", "1"], 1,
                   "control: missing", absent: [Bad.out("train-a")]),
            BadRow("train into its data", ["train", "--data", world, "--out", world, "--steps", "1"], 1, "is also an input"),
            BadRow("train into a missing folder", ["train", "--data", world, "--out", missing + "/run", "--steps", "1"], 1, "does not exist",
                   absent: [missing]),
            BadRow("train --base without config.json", ["train", "--data", world, "--out", Bad.out("train-b"), "--base", Bad.path("empty-folder"),
                                                        "--steps", "1"], 1, "config.json", absent: [Bad.out("train-b")]),
            BadRow("train --base with in_channels 16", ["train", "--data", world, "--out", Bad.out("train-in16"), "--base", Bad.path("flux-in16"),
                                                        "--steps", "1"], 1, "in_channels 16, out_channels 16: lorweb's space-to-depth codec makes 192-d tokens",
                   absent: [Bad.out("train-in16")]),
            BadRow("train --base with in_channels 64", ["train", "--data", world, "--out", Bad.out("train-in64"), "--base", Bad.path("flux-in64"),
                                                        "--steps", "1"], 1, "needs in_channels = out_channels = 192", absent: [Bad.out("train-in64")]),
            BadRow("train --base given a CLIP folder", ["train", "--data", world, "--out", Bad.out("train-clip-base"), "--base", Bad.clip,
                                                         "--steps", "1"], 1,
                   "config.json: is a transformers CLIPVisionModelWithProjection config, not a diffusers FluxTransformer2DModel config",
                   absent: [Bad.out("train-clip-base")]),
            BadRow("train --encoder given a Flux folder", ["train", "--data", world, "--out", Bad.out("train-flux-encoder"), "--encoder",
                                                            Bad.path("flux-in64"), "--steps", "1"], 1,
                   "config.json: is a diffusers FluxTransformer2DModel config, not a CLIP vision config", absent: [Bad.out("train-flux-encoder")]),
            BadRow("train --encoder with a NaN weight", ["train", "--data", world, "--out", Bad.out("train-c"), "--encoder", Bad.path("clip-nan"),
                                                         "--steps", "1"], 1, "holds nan", absent: [Bad.out("train-c")]),
            // Absurd sizes are refused from an estimate before anything of that size is allocated.
            BadRow("train --rank 100000000", ["train", "--data", world, "--out", Bad.out("train-rank"), "--steps", "1", "--rank", "100000000"], 1,
                   "training n 32, r 100000000, key width 128 at batch 8 would need", absent: [Bad.out("train-rank")]),
            BadRow("train --loras 100000000", ["train", "--data", world, "--out", Bad.out("train-loras"), "--steps", "1", "--loras", "100000000"], 1,
                   "of memory, more than", absent: [Bad.out("train-loras")]),
            BadRow("train --keys-dim 100000000", ["train", "--data", world, "--out", Bad.out("train-keys"), "--steps", "1", "--keys-dim", "100000000"],
                   1, "of memory, more than", absent: [Bad.out("train-keys")]),
            BadRow("train --batch 100000000", ["train", "--data", world, "--out", Bad.out("train-batch"), "--steps", "1", "--batch", "100000000"], 1,
                   "at batch 100000000 would need", absent: [Bad.out("train-batch")]),
            BadRow("train --rank 2^61", ["train", "--data", world, "--out", Bad.out("train-rank61"), "--steps", "1", "--rank", "2305843009213693952"],
                   1, "of memory, more than", absent: [Bad.out("train-rank61")]),
            BadRow("interpolate --steps 100000000", ["interpolate", "--from", good + "," + good, "--to", good + "," + good, "--b", good,
                                                     "--steps", "100000000", "--out", Bad.out("strip-many.png")], 1,
                   "100000000 interpolation frames would need", absent: [Bad.out("strip-many.png"), Bad.out("strip-many.svg")]),
            BadRow("eval --data without a manifest", ["eval", "--data", Bad.path("empty-folder"), "--out", Bad.out("eval-a.json")], 1,
                   "manifest", absent: [Bad.out("eval-a.json"), Bad.out("eval-a.png")]),
            BadRow("eval over its data", ["eval", "--data", world, "--out", world], 1, "is also an input"),
            BadRow("eval into a missing folder", ["eval", "--data", world, "--out", missing + "/e.json"], 1, "does not exist", absent: [missing]),
            BadRow("coeffs --split of no world", ["coeffs", "--triplets", world, "--split", "validation", "--out", Bad.out("c.npy")], 1,
                   "no split validation", absent: [Bad.out("c.npy"), Bad.out("c.csv")]),
            BadRow("coeffs over its list", ["coeffs", "--triplets", Bad.path("list-no-truth.csv"), "--out", Bad.path("list-no-truth.csv")], 2,
                   "--out must end in .npy"),
            BadRow("pca of a [4] vector", ["pca", "--coeffs", Bad.path("coeffs-good.npy"), "--out", Bad.out("pca-a")], 1,
                   "is not [triplets, 52 layers, n 32]", absent: [Bad.out("pca-a")]),
            BadRow("pca of text", ["pca", "--coeffs", Bad.path("coeffs-text.npy"), "--out", Bad.out("pca-b")], 1, "not an NPY file",
                   absent: [Bad.out("pca-b")]),
            BadRow("pca of NaN coefficients", ["pca", "--coeffs", Bad.path("coeffs-shipped-nan.npy"), "--out", Bad.out("pca-c")], 1,
                   Bad.path("coeffs-shipped-nan.npy") + ": the coefficients holds nan", absent: [Bad.out("pca-c")]),
            BadRow("pca over its coefficients", ["pca", "--coeffs", Bad.path("coeffs-shipped.npy"), "--out", Bad.path("coeffs-shipped.npy")], 1,
                   "is also an input"),
            BadRow("interpolate from a text image", ["interpolate", "--from", good + "," + Bad.path("text.png"), "--to", good + "," + good,
                                                      "--b", good, "--out", Bad.out("strip.png")], 1, Bad.path("text.png") + ": not a PNG or JPEG",
                   absent: [Bad.out("strip.png"), Bad.out("strip.svg")]),
            BadRow("interpolate over its b", ["interpolate", "--from", good + "," + good, "--to", good + "," + good, "--b", good, "--out", good], 1,
                   "is also an input"),
            BadRow("report --data without a manifest", ["report", "--data", Bad.path("empty-folder"), "--out", Bad.out("report")], 1, "manifest",
                   absent: [Bad.out("report")]),
            BadRow("report into its data", ["report", "--data", world, "--out", world], 1, "is also an input"),
        ]
        for command in ["edit", "eval", "coeffs"] {
            rows += [
                list(command, "list-empty.csv", "list-empty.csv"),
                list(command, "list-no-columns.csv", "missing columns a_prime, b"),
                list(command, "list-missing-image.csv", "triplet \"y\": \(Bad.path("missing.png")): cannot open: No such file or directory"),
                list(command, "list-duplicate-ids.csv", "list-duplicate-ids.csv"),
                list(command, "missing.csv", Bad.path("missing.csv") + ": "),
                list(command, "list-million-rows.csv", "list-million-rows.csv: has more than 1000000 rows, the most a list may hold"),
                list(command, "list-giant-line.csv", "list-giant-line.csv: line 2 is longer than 1048576 bytes"),
                list(command, "list-terabyte.csv", "list-terabyte.csv: holds 1099511627776 bytes, more than the 268435456"),
            ]
        }
        rows.append(list("eval", "list-no-truth.csv", "triplet x has no b_prime"))
        rows.append(list("edit", "list-text-image.csv", Bad.path("text.png") + ": not a PNG or JPEG"))
        return rows
    }()

    /// Writes outside the output, over an input, over a finished run; special files (issue 21).
    static let writeSafety: [BadRow] = {
        _ = Bad.made
        let world = Bad.path("world"), good = Bad.path("good.png")
        func batch(_ file: String, outDir: String? = nil, _ fragment: String, absent: [String] = []) -> BadRow {
            let folder = outDir ?? Bad.out("batch-\(file)")
            return BadRow("edit --triplets \(file)", ["edit", "--triplets", Bad.path(file), "--out-dir", folder, "--steps", "1"], 1, fragment,
                          absent: absent + (outDir == nil ? [folder] : []))
        }
        let tiny = ["--steps", "1", "--batch", "2"]
        return [
            batch("list-id-parent.csv", "row 1 (id \"../escaped-id\"): the id names the output", absent: [Bad.path("escaped-id.png")]),
            batch("list-id-absolute.csv", "must be a plain file name"),
            batch("list-out-absolute.csv", "is an absolute path", absent: [Bad.path("escaped-abs.png")]),
            batch("list-out-parent.csv", "climbs out with '..'", absent: [Bad.root + "/../escaped-parent.png"]),
            batch("list-out-duplicate.csv", "row 2 (id \"y\"): \(Bad.out("batch-list-out-duplicate.csv"))/same.png is also the output of row 1"),
            BadRow("edit --triplets whose output replaces a later row's input", ["edit", "--triplets", Bad.path("list-out-replaces-input.csv"),
                                                                               "--steps", "1"], 1, "is also an input", absent: [Bad.path("y.png")]),
            batch("list-out-symlink.csv", outDir: Bad.path("edit-links"), "outside \(Bad.path("edit-links")), through a symbolic link",
                  absent: [Bad.path("escape-target/escaped-link.png")]),
            batch("list-long-header.csv", "characters); expected at least a,a_prime,b"),
            BadRow("edit --out and --grid the same file", ["edit", "--a", good, "--a-prime", good, "--b", good, "--out", Bad.out("twice.png"),
                                                          "--grid", Bad.out("twice.png"), "--steps", "1"], 1, "is written twice",
                   absent: [Bad.out("twice.png")]),
            BadRow("edit --out an existing folder", ["edit", "--a", good, "--a-prime", good, "--b", good, "--out", Bad.path("empty-folder"),
                                                    "--steps", "1"], 1, "is an existing folder"),
            BadRow("coeffs whose index would replace its list", ["coeffs", "--triplets", Bad.path("side-list.csv"), "--out", Bad.path("side-list.npy")],
                   1, Bad.path("side-list.csv") + ": is also an input", absent: [Bad.path("side-list.npy")]),
            BadRow("eval whose figure would replace an input image", ["eval", "--data", Bad.path("eval-figure.csv"), "--out", Bad.path("fig-b.json"),
                                                                      "--steps", "1"], 1, Bad.path("fig-b.png") + ": is also an input",
                   absent: [Bad.path("fig-b.json")]),
            BadRow("interpolate whose .svg would replace its b", ["interpolate", "--from", good + "," + good, "--to", good + "," + good,
                                                                  "--b", Bad.path("strip-b.png"), "--out", Bad.path("strip-b.svg")], 1,
                   Bad.path("strip-b.png") + ": is also an input", absent: [Bad.path("strip-b.svg")]),
            BadRow("report into the folder of its list", ["report", "--data", Bad.path("report-in/coeffs.csv"), "--out", Bad.path("report-in")], 1,
                   "holds an input", absent: [Bad.path("report-in/index.html"), Bad.path("report-in/coeffs.npy")]),
            BadRow("train over a finished run", ["train", "--data", world, "--out", Bad.path("finished-run")] + tiny, 1, "holds a finished run",
                   absent: [Bad.path("finished-run/training")]),
            BadRow("pretrain-encoder over a finished encoder", ["pretrain-encoder", "--data", world, "--out", Bad.path("finished-encoder")] + tiny, 1,
                   "holds a finished run", absent: [Bad.path("finished-encoder/encoder-training")]),
            BadRow("pretrain-base over a finished base", ["pretrain-base", "--data", world, "--out", Bad.path("finished-base"), "--eval", "0"] + tiny,
                   1, "holds a finished run", absent: [Bad.path("finished-base/base-training")]),
            BadRow("train that diverges before its first checkpoint", ["train", "--data", world, "--out", Bad.out("diverged"), "--steps", "3",
                                                                       "--batch", "2", "--loras", "4", "--rank", "2", "--keys-dim", "16", "--lr", "1e30"],
                   1, "no checkpoint was written before it", absent: [Bad.out("diverged")]),
            BadRow("svd --coeffs of the wrong shape names the file", ["svd", "--model", A, "--coeffs", Bad.path("coeffs-2layers.npy"), "--out",
                                                                      Bad.out("svd-shape")], 1, Bad.path("coeffs-2layers.npy") + ": the coefficients have shape [2, 4]",
                   absent: [Bad.out("svd-shape")]),
            BadRow("edit --a too small for any grid names it", ["edit", "--a", Bad.path("speck.png"), "--a-prime", good, "--b", good, "--out",
                                                               Bad.out("speck.png"), "--steps", "1"],
                   1, "a " + Bad.path("speck.png") + ": a 4x4 grid is too small", absent: [Bad.out("speck.png")]),
            BadRow("edit --a a FIFO", ["edit", "--a", Bad.path("fifo.png"), "--a-prime", good, "--b", good, "--out", Bad.out("fifo.png"), "--steps", "1"],
                   1, Bad.path("fifo.png") + ": is a FIFO (named pipe), not a regular file", absent: [Bad.out("fifo.png")]),
            BadRow("edit --triplets a FIFO", ["edit", "--triplets", Bad.path("fifo.csv"), "--out-dir", Bad.out("fifo-dir"), "--steps", "1"], 1,
                   Bad.path("fifo.csv") + ": is a FIFO", absent: [Bad.out("fifo-dir")]),
            BadRow("svd --coeffs a FIFO", ["svd", "--model", A, "--coeffs", Bad.path("fifo.npy"), "--out", Bad.out("svd-fifo")], 1,
                   Bad.path("fifo.npy") + ": is a FIFO", absent: [Bad.out("svd-fifo")]),
            BadRow("inspect a folder holding a FIFO", ["inspect", Bad.path("fifo-folder")], 1, Bad.path("fifo-folder/x.safetensors") + ": is a FIFO"),
            BadRow("export-lora --b a device", ["export-lora", "--model", A, "--a", good, "--a-prime", good, "--b", "/dev/null", "--clip", Bad.clip,
                                                "--out", Bad.out("ex-dev.safetensors")], 1, "/dev/null: is a device", absent: [Bad.out("ex-dev.safetensors")]),
        ]
    }()

    /// Outputs into a read-only folder (meaningless for root, which writes anyway).
    static let readOnlyOutputs: [BadRow] = {
        _ = Bad.made
        let ro = Bad.path("read-only")
        return [
            BadRow("synth into a read-only folder", ["synth", "--out", ro + "/world", "--train", "2", "--eval", "0"], 1, "is not writable", absent: [ro + "/world"]),
            BadRow("basis into a read-only folder", ["basis", "--model", A, "--out", ro + "/basis"], 1, "is not writable", absent: [ro + "/basis"]),
            BadRow("export-lora into a read-only folder", ["export-lora", "--model", A, "--coeffs", "uniform", "--out", ro + "/x.safetensors"], 1,
                   "is not writable", absent: [ro + "/x.safetensors"]),
            BadRow("keygraph into a read-only folder", ["keygraph", "--model", A, "--out", ro + "/kg.svg"], 1, "is not writable", absent: [ro + "/kg.svg"]),
        ]
    }()

    /// `lora FILE_OR_FOLDER...`: ordinary LoRAs, alone and side by side.
    static let loras: [BadRow] = {
        _ = Bad.made
        let set = Fixtures.root.path + "/lora/set", q = set + "/q.safetensors"
        let base = URL(fileURLWithPath: Bad.clip).deletingLastPathComponent().appendingPathComponent("base").path
        let cases: [(String, [String], String)] = [
            ("a missing file", [Bad.path("missing.safetensors")], "no such file or folder"),
            ("a full Flux transformer", [base], "is not an ordinary LoRA"),
            ("a LoRWeB basis", [A], "a LoRWeB basis is analysed with `lorweb basis`"),
            ("a layer of another size", [q, Bad.path("lora-wide.safetensors")], "is 256x512 (out x in) but 256x256 in"),
            ("A without B", [Bad.path("lora-no-up.safetensors")], "has no transformer_blocks.0.attn.to_q.lora_B.weight beside it"),
            ("A and B of different ranks", [Bad.path("lora-ranks-disagree.safetensors")], "are not [r, in] and [out, r]"),
            ("a broken adapter_config.json", [Bad.path("lora-bad-config")], "adapter_config.json: not a JSON object"),
            ("a rank_pattern the tensors contradict", [Bad.path("lora-wrong-rank")], "has rank 2 but"),
            ("no common layer", [q, Fixtures.root.path + "/lora/peft"], "similarity needs common layers"),
        ]
        return cases.enumerated().map { i, c in
            BadRow("lora \(c.0)", ["lora"] + c.1 + ["--out", Bad.out("lora-\(i)")], 1, c.2, absent: [Bad.out("lora-\(i)")])
        } + [BadRow("lora without a LoRA", ["lora", "--out", Bad.out("lora-u")], 2, "Missing expected argument", absent: [Bad.out("lora-u")])]
    }()

    /// Usage errors: exit status 2, the problem on one line.
    static let usage: [BadRow] = [
        BadRow("no command argument", ["inspect"], 2, "Missing expected argument"),
        BadRow("unknown option", ["basis", "--model", A, "--out", Bad.out("u1"), "--bogus"], 2, "Unknown option '--bogus'", absent: [Bad.out("u1")]),
        BadRow("missing --out", ["svd", "--model", A], 2, "Missing expected argument '--out <out>'"),
        BadRow("--threads 0", ["basis", "--model", A, "--out", Bad.out("u2"), "--threads", "0"], 2, "--threads must be at least 1", absent: [Bad.out("u2")]),
        BadRow("--threads 10000", ["basis", "--model", A, "--out", Bad.out("u29"), "--threads", "10000"], 2, "more than 4x this machine's",
               absent: [Bad.out("u29")], pinThreads: false),
        BadRow("--threads 2^61", ["basis", "--model", A, "--out", Bad.out("u30"), "--threads", "2305843009213693952"], 2, "more than 4x this machine's",
               absent: [Bad.out("u30")], pinThreads: false),
        BadRow("LORWEB_THREADS=10000", ["basis", "--model", A, "--out", Bad.out("u40")], 2, "LORWEB_THREADS 10000 is more than 4x this machine's",
               absent: [Bad.out("u40")], pinThreads: false, environment: ["LORWEB_THREADS": "10000"]),
        BadRow("LORWEB_THREADS=many", ["basis", "--model", A, "--out", Bad.out("u41")], 2, "LORWEB_THREADS 'many' is not a whole number",
               absent: [Bad.out("u41")], pinThreads: false, environment: ["LORWEB_THREADS": "many"]),
        BadRow("--max-pixels 0", ["basis", "--model", A, "--out", Bad.out("u31"), "--max-pixels", "0"], 2, "--max-pixels must be at least 1",
               absent: [Bad.out("u31")]),
        BadRow("--threads not a number", ["basis", "--model", A, "--out", Bad.out("u3"), "--threads", "two"], 2, "--threads", absent: [Bad.out("u3")]),
        BadRow("synth --size 7", ["synth", "--out", Bad.out("u4"), "--size", "7"], 2, "size must be a multiple of 8", absent: [Bad.out("u4")]),
        BadRow("synth --train -1", ["synth", "--out", Bad.out("u5"), "--train=-1"], 2, "cannot be negative", absent: [Bad.out("u5")]),
        BadRow("pretrain --batch 1", ["pretrain-encoder", "--data", Bad.out("none"), "--out", Bad.out("u6"), "--batch", "1"], 2, "--batch >= 2",
               absent: [Bad.out("u6")]),
        BadRow("pretrain --steps 0", ["pretrain-base", "--data", Bad.out("none"), "--out", Bad.out("u7"), "--steps", "0"], 2, "--steps",
               absent: [Bad.out("u7")]),
        BadRow("export-lora --rank 0", ["export-lora", "--model", A, "--coeffs", "uniform", "--rank", "0", "--out", Bad.out("u8")], 2,
               "--rank must be at least 1", absent: [Bad.out("u8")]),
        BadRow("export-lora without coefficients", ["export-lora", "--model", A, "--out", Bad.out("u9")], 2, "give --coeffs", absent: [Bad.out("u9")]),
        BadRow("export-lora with both", ["export-lora", "--model", A, "--coeffs", "uniform", "--a", "x.png", "--out", Bad.out("u10")], 2,
               "not both", absent: [Bad.out("u10")]),
        BadRow("export-lora without --clip", ["export-lora", "--model", A, "--a", "x.png", "--a-prime", "y.png", "--b", "z.png", "--out", Bad.out("u11")],
               2, "needs --clip", absent: [Bad.out("u11")]),
        BadRow("keygraph --edges x", ["keygraph", "--model", A, "--out", Bad.out("u12.svg"), "--edges", "high"], 2, "'high' is not an edge rule",
               absent: [Bad.out("u12.svg")]),
        BadRow("bench ops --reps 0", ["bench", "ops", "--reps", "0"], 2, "--reps must be at least 1"),
        BadRow("train --query-mode bogus", ["train", "--data", Bad.out("none"), "--out", Bad.out("u13"), "--query-mode", "bogus"], 2,
               "--query-mode must be one of", absent: [Bad.out("u13")]),
        BadRow("export-lora --dtype f8", ["export-lora", "--model", A, "--coeffs", "uniform", "--dtype", "f8", "--out", Bad.out("u-dtype.safetensors")], 2,
               "--dtype must be f32, f16 or bf16", absent: [Bad.out("u-dtype.safetensors")]),
        BadRow("train --single-lora --loras 4", ["train", "--data", Bad.out("none"), "--out", Bad.out("u14"), "--single-lora", "--loras", "4"], 2,
               "drop --loras 4", absent: [Bad.out("u14")]),
        BadRow("train --steps 0", ["train", "--data", Bad.out("none"), "--out", Bad.out("u15"), "--steps", "0"], 2, "must be >= 1",
               absent: [Bad.out("u15")]),
        BadRow("edit without --b", ["edit", "--a", "x.png", "--a-prime", "y.png", "--out", Bad.out("u16.png")], 2, "give --a, --a-prime, --b and --out",
               absent: [Bad.out("u16.png")]),
        BadRow("edit with both forms", ["edit", "--triplets", "t.csv", "--a", "x.png"], 2, "not both"),
        BadRow("eval --split bogus", ["eval", "--data", "t.csv", "--split", "bogus", "--out", Bad.out("u17.json")], 2, "--split must be seen or unseen",
               absent: [Bad.out("u17.json")]),
        BadRow("coeffs --out .txt", ["coeffs", "--triplets", "t.csv", "--out", Bad.out("u18.txt")], 2, "--out must end in .npy",
               absent: [Bad.out("u18.txt")]),
        BadRow("pca --components 1", ["pca", "--coeffs", "c.npy", "--out", Bad.out("u19"), "--components", "1"], 2, "--components must be at least 2",
               absent: [Bad.out("u19")]),
        BadRow("interpolate --from one path", ["interpolate", "--from", "x.png", "--to", "x.png,y.png", "--b", "z.png", "--out", Bad.out("u20.png")], 2,
               "--from must be two image paths", absent: [Bad.out("u20.png")]),
        BadRow("interpolate --space bogus", ["interpolate", "--from", "x.png,y.png", "--to", "x.png,y.png", "--b", "z.png", "--space", "bogus",
                                             "--out", Bad.out("u21.png")], 2, "--space", absent: [Bad.out("u21.png")]),
        BadRow("report --frames 1", ["report", "--data", "d", "--out", Bad.out("u22"), "--frames", "1"], 2, "at least 2", absent: [Bad.out("u22")]),
        BadRow("unknown command", ["frobnicate"], 2, "frobnicate", pinThreads: false),
        BadRow("edit --guidance nan", ["edit", "--a", "x.png", "--a-prime", "y.png", "--b", "z.png", "--out", Bad.out("u23.png"), "--guidance", "nan"], 2,
               "'nan' is not a finite number", absent: [Bad.out("u23.png")]),
        BadRow("train --lr inf", ["train", "--data", Bad.out("none"), "--out", Bad.out("u24"), "--lr", "inf"], 2, "'inf' is not a finite number",
               absent: [Bad.out("u24")]),
        BadRow("pretrain-base --lr nan", ["pretrain-base", "--data", Bad.out("none"), "--out", Bad.out("u25"), "--lr", "nan"], 2,
               "'nan' is not a finite number", absent: [Bad.out("u25")]),
        BadRow("keygraph --edges cosine:-inf", ["keygraph", "--model", A, "--out", Bad.out("u26.svg"), "--edges", "cosine:-inf"], 2,
               "'cosine:-inf' is not an edge rule", absent: [Bad.out("u26.svg")]),
        BadRow("interpolate --guidance inf", ["interpolate", "--from", "x.png,y.png", "--to", "x.png,y.png", "--b", "z.png", "--guidance", "inf",
                                              "--out", Bad.out("u27.png")], 2, "'inf' is not a finite number", absent: [Bad.out("u27.png")]),
        BadRow("train --edge-loss -1", ["train", "--data", Bad.out("none"), "--out", Bad.out("u29"), "--edge-loss=-1"], 2,
               "--edge-loss must be >= 0", absent: [Bad.out("u29")]),
        BadRow("train --seam-loss -1", ["train", "--data", Bad.out("none"), "--out", Bad.out("u29s"), "--seam-loss=-1"], 2,
               "--seam-loss must be >= 0", absent: [Bad.out("u29s")]),
        BadRow("train --scale 0", ["train", "--data", Bad.out("none"), "--out", Bad.out("u29c"), "--scale", "0"], 2,
               "--scale must be > 0", absent: [Bad.out("u29c")]),
        BadRow("train --timesteps bogus", ["train", "--data", Bad.out("none"), "--out", Bad.out("u29t"), "--timesteps", "bogus"], 2,
               "--timesteps must be one of base, sampler", absent: [Bad.out("u29t")]),
        BadRow("train --loss bogus", ["train", "--data", Bad.out("none"), "--out", Bad.out("u29l"), "--loss", "bogus"], 2,
               "--loss must be one of mean, log-mse", absent: [Bad.out("u29l")]),
        BadRow("pretrain-base --whitening-floor 0", ["pretrain-base", "--data", Bad.out("none"), "--out", Bad.out("u30"), "--whitening-floor", "0"], 2,
               "--whitening-floor must be in (0, 1]", absent: [Bad.out("u30")]),
        BadRow("pretrain-base --whitening-floor with --from", ["pretrain-base", "--data", Bad.out("none"), "--out", Bad.out("u32"),
                                                               "--whitening-floor", "1", "--from", Bad.out("none")], 2,
               "a base continued --from keeps its start's", absent: [Bad.out("u32")]),
        BadRow("train --resume --force", ["train", "--data", Bad.out("none"), "--out", Bad.out("u28"), "--resume", "--force"], 2, "not both",
               absent: [Bad.out("u28")]),
    ]
}

@Suite struct BadInputCatalogue {
    @Test(arguments: Catalogue.models) func model(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.coefficients) func coefficients(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.analogy) func analogy(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.configs) func config(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.data) func data(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.pipeline) func pipeline(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.outputs) func output(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.writeSafety) func writeSafety(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.loras) func lora(_ row: BadRow) throws { try row.check() }
    @Test(.enabled(if: !Bad.writesIgnorePermissions, "running as root: a read-only folder does not stop writes"),
          arguments: Catalogue.readOnlyOutputs)
    func readOnlyOutput(_ row: BadRow) throws { try row.check() }
    @Test(arguments: Catalogue.usage) func usage(_ row: BadRow) throws {
        #expect(try row.check().stdout.isEmpty)
    }
}

/// Run folders: a second writer is refused while the lock is held; a resume must bring the run's
/// settings (only more steps, recorded) and clears the temporary files of killed checkpoint writes.
@Suite(.serialized) struct RunFolderSafety {
    func train(_ out: String, steps: Int = 1, _ extra: [String] = []) throws -> Run {
        try CLI.run(["train", "--data", Bad.path("world"), "--out", out, "--steps", String(steps), "--batch", "2", "--loras", "4", "--rank", "2",
                     "--keys-dim", "16"] + extra)
    }

    @Test func aSecondWriterIsRefusedNamingTheHolder() throws {
        _ = Bad.made
        let folder = try scratchFolder("locked")
        for name in [FolderLock.fileName(), FolderLock.fileName(EncoderPretraining.folder)] {
            let fd = open(folder + "/" + name, O_RDWR | O_CREAT, 0o644)
            #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
            _ = Array("\(getpid())\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        let holder = "is being written by another lorweb process (pid \(getpid()))"
        let runs = [
            try train(folder),
            try CLI.run(["pretrain-encoder", "--data", Bad.path("world"), "--out", folder, "--steps", "1", "--batch", "2"]),
            try CLI.run(["edit", "--triplets", Bad.path("list-no-truth.csv"), "--out-dir", folder, "--steps", "1"]),
        ]
        for run in runs {
            #expect(run.status == 1 && run.stderr.contains(holder), "\(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/training") && !FileManager.default.fileExists(atPath: folder + "/x.png"))
    }

    @Test func resumeRefusesChangedSettingsAndRecordsMoreSteps() throws {
        _ = Bad.made
        let out = try scratchFolder("resumed")
        let first = try train(out)
        #expect(first.status == 0, "\(first.stderr)")
        let stale = out + "/training/.checkpoint-9.safetensors.tmp-\(Int32.max)-1"
        try AtomicFile.write(Data(count: 1000), to: stale)

        let changed: [([String], String)] = [
            (["--tanh"], "softmax true -> false"),
            (["--lr", "0.5"], "learning_rate 0.001 -> 0.5"),
            (["--caption-dropout", "1"], "caption_dropout 0.05 -> 1"),
        ]
        for (extra, difference) in changed {
            let run = try train(out, ["--resume"] + extra)
            #expect(run.status == 1 && run.stderr.contains("cannot resume: the settings differ from the run's: \(difference)"), "\(run.stderr)")
        }
        let again = try train(out)
        #expect(again.status == 1 && again.stderr.contains("holds a finished run"), "\(again.stderr)")

        let longer = try train(out, steps: 2, ["--resume"])
        #expect(longer.status == 0, "\(longer.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stale), "the stale temporary file was kept")
        let config = try String(contentsOfFile: out + "/lorweb.json", encoding: .utf8)
        #expect(config.contains(#"\"history\":[{\"resumed_at\":1,\"steps\":[1,2]}]"#), "\(config)")
    }
}
