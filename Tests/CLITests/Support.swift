import Foundation
import Testing
import Formats

/// What one run of the `lorweb` binary did.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
    /// Whether a signal ended it (then `status` is the signal's number).
    let signalled: Bool
}

enum CLI {
    /// `lorweb` as `swift build` puts it: next to the test runner.
    static let binary: String = {
        let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = runner.deletingLastPathComponent()
        // swift-corelibs-xctest runs `<products>/lorwebPackageTests.xctest`; some runners sit one level deeper.
        for _ in 0..<3 where !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("lorweb").path) {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("lorweb").path
    }()

    /// The repository's Tests/Fixtures (read in place: these tests need no bundle resources).
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// Starts lorweb with `arguments`; OPENBLAS_CORETYPE is removed as the Makefile does.
    static func start(_ arguments: [String], threads: Int? = 1) throws -> (Process, Pipe, Pipe) {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw FormatError(binary, "lorweb is not built; run `swift build` first")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let pinned = arguments.contains("--threads") ? [] : threads.map { ["--threads", String($0)] } ?? []
        process.arguments = arguments + pinned
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        environment["LORWEB_THREADS"] = nil
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    static func finish(_ p: (Process, Pipe, Pipe)) -> Run {
        let (process, out, err) = p
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: e, as: UTF8.self), signalled: process.terminationReason == .uncaughtSignal)
    }

    /// Runs lorweb to completion. `threads: nil` leaves `--threads` off (for commands or
    /// argument errors where it must not be added).
    static func run(_ arguments: [String], threads: Int? = 1) throws -> Run {
        finish(try start(arguments, threads: threads))
    }
}

/// A new empty folder under the system temporary folder.
func scratchFolder(_ label: String = #function) throws -> String {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "lorweb-cli-\(safe)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
