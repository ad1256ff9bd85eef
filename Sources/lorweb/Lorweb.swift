import ArgumentParser
import Foundation
import Tensor

@main
struct Lorweb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorweb",
        abstract: "LoRWeB workbench: visual analogies with a weight basis of LoRAs, and tools to study the basis.",
        subcommands: [Bench.self, Inspect.self])
}

/// Options every command accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for our kernels and OpenBLAS together (default: LORWEB_THREADS or all cores).")
    var threads: Int?

    /// Applies the options; call first in `run()`.
    func apply() throws {
        if let threads {
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
            Runtime.threads = threads
        }
    }
}
