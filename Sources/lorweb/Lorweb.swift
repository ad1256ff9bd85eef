import ArgumentParser
import Formats
import Foundation
import Tensor

@main
struct Lorweb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorweb",
        abstract: "LoRWeB workbench: visual analogies with a weight basis of LoRAs, and tools to study the basis.",
        subcommands: [Inspect.self, Synth.self, PretrainEncoder.self, PretrainBase.self, Train.self, Edit.self, Eval.self, Basis.self, SVD.self, KeyGraphCommand.self, ExportLoRACommand.self, LoRACommand.self, Bench.self, Coeffs.self, PCA.self, Interpolate.self, Report.self])
}

/// Options every command accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Threads to compute with (default: LORWEB_THREADS, else all cores); results do not depend on it.")
    var threads: Int?

    @Option(name: .long, help: "Largest image to decode, in pixels (default: LORWEB_MAX_PIXELS, else 4096x4096 = 16777216).")
    var maxPixels: Int?

    /// Applies the options; call first in `run()`.
    func apply() throws {
        // Threads beyond the cores only add stacks and contention; thousands of them under a
        // memory limit left OpenBLAS's allocator retrying for ever. The environment's count is
        // held to the same bound as the option's.
        func checked(_ threads: Int, _ source: String) throws -> Int {
            guard threads >= 1 else { throw ValidationError("\(source) must be at least 1, got \(threads)") }
            let cores = ProcessInfo.processInfo.activeProcessorCount
            guard threads <= 4 * cores else {
                throw ValidationError("\(source) \(threads) is more than 4x this machine's \(cores) cores (at most \(4 * cores))")
            }
            return threads
        }
        if let threads {
            Runtime.threads = try checked(threads, "--threads")
        } else if let text = ProcessInfo.processInfo.environment["LORWEB_THREADS"] {
            guard let threads = Int(text.prefix(40)) else { throw ValidationError("LORWEB_THREADS '\(text.prefix(40))' is not a whole number") }
            Runtime.threads = try checked(threads, "LORWEB_THREADS")
        }
        if let maxPixels {
            guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be at least 1, got \(maxPixels)") }
            Image.maxPixels = maxPixels
        }
    }
}

/// Parses a number option that must be finite: Swift reads "nan" and "inf" as numbers, which
/// would otherwise run to the end and write an all-black image or fail in an encoder.
/// Thrown here, it is a usage error (exit status 2) naming the option.
func finite<T: BinaryFloatingPoint & LosslessStringConvertible>(_ text: String) throws -> T {
    guard let value = T(text) else { throw ValidationError("'\(text)' is not a number") }
    guard value.isFinite else { throw ValidationError("'\(text)' is not a finite number") }
    return value
}
