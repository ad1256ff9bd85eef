import Foundation
import Testing
import Formats
import TestSupport

// `lorweb --version` and the grouped `lorweb --help`.

@Test func versionNamesTheReleaseAndTheCommit() throws {
    let run = try CLI.run(["--version"], threads: nil)
    #expect(run.status == 0 && run.stderr.isEmpty, "\(run.stderr)")
    #expect(run.stdout == "lorweb \(LorwebVersion.description)\n", "\(run.stdout)")
    #expect(run.stdout.hasPrefix("lorweb \(LorwebVersion.number) ("))
}

@Test func helpGroupsTheSubcommands() throws {
    let run = try CLI.run(["--help"], threads: nil)
    #expect(run.status == 0)
    let groups = ["SMALL WORLD SUBCOMMANDS:", "LORWEB SUBCOMMANDS:", "ANALYSIS SUBCOMMANDS:", "BENCHMARK SUBCOMMANDS:"]
    let positions = groups.map { run.stdout.range(of: $0)?.lowerBound }
    #expect(positions.allSatisfy { $0 != nil }, "\(run.stdout)")
    #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
    for command in ["synth", "pretrain-base", "train", "edit", "eval", "inspect", "report", "export-lora", "bench"] {
        #expect(run.stdout.contains("\n  \(command) "), "\(command) missing from --help")
    }
}

@Test func resumeAndForceTogetherIsAUsageError() throws {
    for command in ["train", "pretrain-encoder", "pretrain-base"] {
        let run = try CLI.run([command, "--data", "d", "--out", "o", "--resume", "--force"], threads: nil)
        #expect(run.status == 2 && run.stderr.hasPrefix("lorweb: give --resume or --force, not both"), "\(command): \(run.stderr)")
    }
}
