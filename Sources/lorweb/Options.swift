import ArgumentParser
import Analysis
import Formats
import Foundation
import Models
import Pipeline
import Tensor

// The option groups commands share. Every command takes `GlobalOptions` (applied by
// `LorwebCommand.run` before its work); the others are taken by the commands that need them.

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

/// The case of `T` named `text` by the option `option`; any other name is a usage error listing the choices.
func choice<T: RawRepresentable & CaseIterable>(_ text: String, of option: String) throws -> T where T.RawValue == String {
    guard let value = T(rawValue: text) else {
        throw ValidationError("\(option) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return value
}

/// Parses `--edges` of the key graphs (`KeyGraph.EdgeRule`); a bad rule is a usage error.
func edgeRule(_ text: String) throws -> KeyGraph.EdgeRule {
    guard let rule = KeyGraph.EdgeRule(text) else {
        throw ValidationError("'\(text)' is not an edge rule: top:K (K >= 1), quantile:Q (Q in 0...1) or cosine:X")
    }
    return rule
}

/// The help of `--edges`, shared by keygraph and report.
let edgeRuleHelp = ArgumentHelp("Which keys to join: top:K (each key's K nearest keys; an edge when either end ranks the other), "
                                + "quantile:Q (the pairs at or above that quantile of all pairs' cosines) or cosine:X (a fixed cosine). (default: top:3)",
                                valueName: "rule")

/// `--model`, defaulting to the shipped default model.
struct ModelOption: ParsableArguments {
    @Option(help: "A run folder written by `lorweb train` (default: the shipped small-world model).") var model: String?

    func resolved() throws -> String { try model ?? ShippedModels.defaultModel }

    func load() throws -> LoRWeBModel {
        let path = try resolved()
        guard case .runFolder = try AdapterFile(path) else {
            throw FormatError(path, "is a file; generating images needs a run folder (lorweb.json, adapters, and the base and encoder it names)")
        }
        return try LoRWeBModel.load(path)
    }
}

/// Sampling options shared by edit and eval.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Euler steps of the flow ODE (default: what the base recommends, see its lorweb_base.json; else the release's 28).")
    var steps: Int?
    @Option(help: "Seed of the initial noise.") var seed: UInt64 = 0
    @Option(help: "Guidance input of the base (the small-world base was trained at 1).", transform: finite) var guidance: Float = 1

    func steps(for model: LoRWeBModel) -> Int { steps ?? model.defaultSteps }

    func validate() throws {
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
    }
}

/// `--resume` and `--force` of the training commands, which own a run folder.
struct RunOptions: ParsableArguments {
    @Flag(help: "Continue from the newest valid checkpoint in --out (with the same settings; only --steps may grow).") var resume = false
    @Flag(help: "Replace the finished run in --out (its checkpoints are deleted first).") var force = false

    func validate() throws {
        if resume && force { throw ValidationError("give --resume or --force, not both") }
    }
}

/// Options of both pretraining stages.
struct PretrainArguments: ParsableArguments {
    @Option(help: "A folder written by `lorweb synth`.") var data: String
    @Option(help: "Run folder (checkpoints, metrics.jsonl, the trained weights).") var out: String
    @Option(help: "Training steps.") var steps: Int?
    @Option(help: "Batch size.") var batch: Int?
    @Option(help: "Peak learning rate (warm-up, then cosine to 10%).", transform: finite) var lr: Double?
    @Option(help: "Seed of initialisation, data order and noise.") var seed: UInt64 = 0
    @Option(help: "Checkpoint every this many steps.") var checkpointEvery = 250
    @OptionGroup var runOptions: RunOptions

    func options(steps defaultSteps: Int, batch defaultBatch: Int, lr defaultLR: Double) throws -> PretrainOptions {
        let o = PretrainOptions(steps: steps ?? defaultSteps, batch: batch ?? defaultBatch, learningRate: lr ?? defaultLR,
                                seed: seed, checkpointEvery: checkpointEvery)
        guard o.steps >= 1, o.batch >= 2, o.learningRate > 0, o.checkpointEvery >= 1 else {
            throw ValidationError("--steps and --checkpoint-every must be >= 1, --batch >= 2, --lr > 0")
        }
        return o
    }
}
