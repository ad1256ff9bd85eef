import ArgumentParser
import Formats

// The command line: one file of shared options (Options.swift), one of errors and exit
// statuses (Errors.swift), one file per command or family of commands; the work itself is in
// the libraries.

@main
struct Lorweb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorweb",
        abstract: "LoRWeB workbench: visual analogies with a weight basis of LoRAs, and tools to study the basis.",
        version: "lorweb \(LorwebVersion.description)",
        // `lorweb --help` lists them in these groups, as "SMALL WORLD SUBCOMMANDS:" and so on.
        groupedSubcommands: [
            CommandGroup(name: "Small world", subcommands: [Synth.self, PretrainEncoder.self, PretrainBase.self]),
            CommandGroup(name: "LoRWeB", subcommands: [Train.self, Edit.self, Eval.self]),
            CommandGroup(name: "Analysis", subcommands: [Inspect.self, Basis.self, SVD.self, KeyGraphCommand.self, Coeffs.self, PCA.self, Interpolate.self,
                                                   Report.self, ExportLoRACommand.self, LoRACommand.self]),
            CommandGroup(name: "Benchmark", subcommands: [Bench.self]),
        ])
}

/// A lorweb command: `run` applies the global options (threads, image size limit), then runs
/// `execute`, turning its errors into one line on stderr and an exit status (Errors.swift).
protocol LorwebCommand: ParsableCommand {
    var global: GlobalOptions { get }
    /// The command's work; usage errors are `ValidationError`s, everything else a one-line failure.
    func execute() throws
}

extension LorwebCommand {
    func run() throws {
        try global.apply()
        try reportingErrors { try execute() }
    }
}
