import Foundation
import Testing
import Formats

// Identical inputs, seed and options give identical bytes, and the thread count changes nothing.
// `Determinism.check` runs a command three times (1 thread, 1 thread again, 2 threads), each
// into its own folder, and compares every file the command wrote byte for byte; `train` and
// `edit` add one line each to `commands` below.

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
            outputs.append(try files(in: out))
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

    static let adapter = CLI.fixtures + "/formats/adapter_tiny.safetensors"

    static let commands: [(String, (String) -> [String])] = [
        ("synth", { ["synth", "--out", $0, "--train", "6", "--eval", "2", "--seed", "5"] }),
        ("basis", { ["basis", "--model", adapter, "--out", $0] }),
        ("svd uniform", { ["svd", "--model", adapter, "--coeffs", "uniform", "--out", $0] }),
        ("svd onehot", { ["svd", "--model", adapter, "--coeffs", "onehot:2", "--out", $0] }),
        ("keygraph svg", { ["keygraph", "--model", adapter, "--threshold", "0.1", "--out", $0 + ".svg"] }),
        ("keygraph png", { ["keygraph", "--model", adapter, "--layer", "transformer_blocks.0.ff.net.2", "--threshold", "0", "--out", $0 + ".png"] }),
        ("export-lora full", { ["export-lora", "--model", adapter, "--coeffs", "uniform", "--out", $0 + ".safetensors"] }),
        ("export-lora rank 3", { ["export-lora", "--model", adapter, "--coeffs", "onehot:1", "--rank", "3", "--out", $0 + ".safetensors"] }),
    ]
}

@Suite struct DeterminismTests {
    @Test(arguments: Determinism.commands.indices)
    func sameBytesForAnyRunAndThreadCount(_ index: Int) throws {
        let (label, arguments) = Determinism.commands[index]
        try Determinism.check(label, arguments)
    }
}
