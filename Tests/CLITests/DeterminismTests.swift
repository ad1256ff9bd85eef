import Foundation
import Testing
import TestSupport
import Formats

// Identical inputs, seed and options give identical bytes, and the thread count changes nothing.
// `Determinism.check` runs a command three times (1 thread, 1 thread again, 2 threads), each
// into its own folder, and compares every file the command wrote byte for byte. The one field
// allowed to differ is the wall time a training log records per step ("seconds" in
// metrics.jsonl); everything else a run writes, checkpoints included, must match.

enum Determinism {
    /// Runs `arguments(out)` at 1, 1 and 2 threads and expects the same files with the same bytes.
    static func check(_ label: String, _ arguments: (String) -> [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let root = try scratchFolder("determinism-\(label)")
        var outputs: [[String: Data]] = []
        for (i, threads) in [1, 1, 2].enumerated() {
            let out = root + "/run\(i)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let run = try CLI.run(arguments(out + "/result"), threads: threads)
            try #require(run.status == 0, "\(label) at \(threads) threads: \(run.stderr)", sourceLocation: sourceLocation)
            outputs.append(try files(in: out).mapValues(withoutWallTime))
        }
        #expect(!outputs[0].isEmpty, "\(label) wrote nothing", sourceLocation: sourceLocation)
        for (i, other) in outputs.enumerated().dropFirst() {
            #expect(Set(other.keys) == Set(outputs[0].keys), "\(label) run \(i): different files", sourceLocation: sourceLocation)
            for (name, bytes) in outputs[0] where other[name] != bytes {
                Issue.record("\(label): \(name) differs between run 0 (1 thread) and run \(i) (\(i == 1 ? 1 : 2) threads)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Every regular file under `folder`, by relative path.
    static func files(in folder: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for case let name as String in FileManager.default.enumerator(atPath: folder)! {
            let path = folder + "/" + name
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
                result[name] = try Data(contentsOf: URL(fileURLWithPath: path))
            }
        }
        return result
    }

    /// A metrics.jsonl line's `"seconds":<number>` removed; other files unchanged (a training log
    /// is the only JSON Lines file lorweb writes).
    static func withoutWallTime(_ data: Data) -> Data {
        guard let text = String(data: data, encoding: .utf8), text.hasPrefix("{\"step\"") else { return data }
        return Data(text.replacingOccurrences(of: #""seconds":[0-9.e+-]+,?"#, with: "", options: .regularExpression).utf8)
    }

    static let adapter = Fixtures.root.path + "/formats/adapter_tiny.safetensors"
    static let repository = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent().path
    /// The shipped default model and its example triplets.
    static let model = repository + "/models/small-world/lorweb"
    static let examples = repository + "/models/small-world/examples"
    static func example(_ name: String) -> String { examples + "/" + name }

    /// A small world (6 training triplets) for train and eval, and coefficients of the
    /// example triplets for pca; made once per test run.
    static let inputs: (world: String, coeffs: String) = {
        let root = try! try scratchFolder("determinism-inputs")
        let world = root + "/world", coeffs = root + "/coeffs.npy"
        for arguments in [["synth", "--out", world, "--train", "6", "--eval", "4", "--seed", "5"],
                          ["coeffs", "--model", model, "--triplets", examples + "/triplets.csv", "--out", coeffs]] {
            let run = try! CLI.run(arguments)
            precondition(run.status == 0, "cannot make the determinism inputs: \(run.stderr)")
        }
        return (world, coeffs)
    }()

    static let commands: [(String, (String) -> [String])] = [
        ("synth", { ["synth", "--out", $0, "--train", "6", "--eval", "2", "--seed", "5"] }),
        ("basis", { ["basis", "--model", adapter, "--out", $0] }),
        ("svd uniform", { ["svd", "--model", adapter, "--coeffs", "uniform", "--out", $0] }),
        ("svd onehot", { ["svd", "--model", adapter, "--coeffs", "onehot:2", "--out", $0] }),
        ("keygraph svg", { ["keygraph", "--model", adapter, "--out", $0 + ".svg"] }),
        ("keygraph png", { ["keygraph", "--model", adapter, "--layer", "transformer_blocks.0.ff.net.2", "--edges", "quantile:0.5", "--out", $0 + ".png"] }),
        ("export-lora full", { ["export-lora", "--model", adapter, "--coeffs", "uniform", "--out", $0 + ".safetensors"] }),
        ("export-lora rank 3", { ["export-lora", "--model", adapter, "--coeffs", "onehot:1", "--rank", "3", "--out", $0 + ".safetensors"] }),
        ("lora", { ["lora", Fixtures.root.path + "/lora/set/p-kohya.safetensors", Fixtures.root.path + "/lora/set/q.safetensors",
                    Fixtures.root.path + "/lora/set/r.safetensors", "--out", $0] }),
        ("train", { ["train", "--data", inputs.world, "--out", $0, "--steps", "3", "--batch", "2", "--loras", "4", "--rank", "2",
                     "--checkpoint-every", "2"] }),
        ("edit", { ["edit", "--a", example("seen_000000_a.png"), "--a-prime", example("seen_000000_ap.png"), "--b", example("seen_000000_b.png"),
                    "--out", $0 + ".png", "--grid", $0 + "-grid.png", "--steps", "3", "--seed", "4"] }),
        ("edit batch", { ["edit", "--triplets", examples + "/triplets.csv", "--out-dir", $0, "--steps", "2"] }),
        ("eval", { ["eval", "--model", model, "--data", inputs.world, "--split", "unseen", "--steps", "2", "--out", $0 + ".json"] }),
        ("coeffs", { ["coeffs", "--model", model, "--triplets", examples + "/triplets.csv", "--out", $0 + ".npy"] }),
        ("pca", { ["pca", "--model", model, "--coeffs", inputs.coeffs, "--components", "3", "--out", $0] }),
        ("interpolate", { ["interpolate", "--model", model, "--from", example("seen_000000_a.png") + "," + example("seen_000000_ap.png"),
                           "--to", example("seen_000005_a.png") + "," + example("seen_000005_ap.png"), "--b", example("seen_000010_b.png"),
                           "--steps", "3", "--sample-steps", "2", "--out", $0 + ".png"] }),
    ]
}

@Suite struct DeterminismTests {
    @Test(arguments: Determinism.commands.indices)
    func sameBytesForAnyRunAndThreadCount(_ index: Int) throws {
        let (label, arguments) = Determinism.commands[index]
        try Determinism.check(label, arguments)
    }
}
