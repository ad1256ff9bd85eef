import Foundation
import Formats

// Running the built `lorweb` binary (the CLITests target and a few library tests that check a command end to end).

/// What one run of the `lorweb` binary did.
public struct Run: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// Whether a signal ended it (then `status` is the signal's number).
    public let signalled: Bool
}

public enum CLI {
    /// `lorweb` as `swift build` puts it: next to the test runner.
    public static let binary: String = {
        let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = runner.deletingLastPathComponent()
        // swift-corelibs-xctest runs `<products>/lorwebPackageTests.xctest`; some runners sit one level deeper.
        for _ in 0..<3 where !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("lorweb").path) {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("lorweb").path
    }()

    /// Starts lorweb with `arguments` in `folder` (default: this process's); OPENBLAS_CORETYPE is
    /// removed as the Makefile does (`environment` is applied after), and `--threads` pinned unless
    /// `threads` is nil or the arguments already have it.
    public static func start(_ arguments: [String], threads: Int? = 1, in folder: String? = nil,
                             environment extra: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw FormatError(binary, "lorweb is not built; run `swift build` first")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let pinned = arguments.contains("--threads") ? [] : threads.map { ["--threads", String($0)] } ?? []
        process.arguments = arguments + pinned
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        environment["LORWEB_THREADS"] = nil
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    public static func finish(_ p: (Process, Pipe, Pipe)) -> Run {
        let (process, out, err) = p
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: e, as: UTF8.self), signalled: process.terminationReason == .uncaughtSignal)
    }

    /// Runs lorweb to completion. `threads: nil` leaves `--threads` off (for commands or
    /// argument errors where it must not be added).
    public static func run(_ arguments: [String], threads: Int? = 1, in folder: String? = nil,
                           environment: [String: String] = [:]) throws -> Run {
        finish(try start(arguments, threads: threads, in: folder, environment: environment))
    }
}
