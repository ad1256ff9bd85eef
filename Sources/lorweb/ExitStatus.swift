import ArgumentParser
import Foundation
import Tensor

// Exit statuses: 0 success, 1 a bad input or a failed operation (one line `lorweb: PATH:
// PROBLEM`), 2 a usage error (one line `lorweb: PROBLEM`, then where to find the usage), as
// Unix tools use them; 128 + N when a training run stopped on signal N after checkpointing.
// ArgumentParser's default for usage errors is 64 (sysexits' EX_USAGE) with the whole usage
// text; lorweb keeps the one-line form every other error has.
extension Lorweb {
    static func main() {
        Runtime.restartIfOpenBLASNeedsOtherSettings()
        if let problem = Runtime.addressSpaceProblem() {
            // _exit: exit would join OpenBLAS threads that may be stuck retrying their buffers.
            FileHandle.standardError.write(Data("lorweb: \(problem)\n".utf8))
            _exit(1)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            let problem = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            let names = Set(configuration.subcommands.map { $0._commandName })
            let sub = CommandLine.arguments.dropFirst().first.flatMap { names.contains($0) ? " " + $0 : nil } ?? ""
            let help = "lorweb\(sub) --help"
            FileHandle.standardError.write(Data("lorweb: \(problem) (see '\(help)')\n".utf8))
            Foundation.exit(2)
        }
    }
}
