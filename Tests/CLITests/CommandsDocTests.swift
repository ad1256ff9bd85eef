import Foundation
import Testing
import TestSupport

// docs/commands.md is generated from the binary's own help (`make docs`, tools/docs/commands.py), so
// the help text in Sources/lorweb/ is the single source of the command reference. This suite runs
// the built binary as the generator does and fails when the file is stale.
@Suite struct CommandsDocTests {
    static let repository = Fixtures.repository
    static let document = repository.appendingPathComponent("docs/commands.md").path
    /// The width the generator wraps help at (tools/docs/commands.py's ENV).
    static let environment = ["COLUMNS": "120", "LINES": "40"]

    /// Every command path, nested ones included, from the parser's own description of the tool.
    static func commandPaths() throws -> [[String]] {
        let run = try CLI.run(["--experimental-dump-help"], threads: nil, environment: environment)
        try #require(run.status == 0, "lorweb --experimental-dump-help: \(run.stderr)")
        let root = try #require((try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])?["command"] as? [String: Any])
        var paths: [[String]] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            paths.append(path)
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                guard let name = sub["commandName"] as? String, name != "help", sub["shouldDisplay"] as? Bool ?? true else { continue }
                walk(sub, path + [name])
            }
        }
        walk(root, [])
        return paths
    }

    /// The blocks of docs/commands.md: the lines between `<!-- help: NAME -->` + an opening fence and the closing fence.
    static func blocks(_ text: String) -> [String: String] {
        let lines = text.components(separatedBy: "\n")
        var out: [String: String] = [:]
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.hasPrefix("<!-- help: "), line.hasSuffix(" -->"), i + 1 < lines.count, lines[i + 1].hasPrefix("```") {
                let name = String(line.dropFirst("<!-- help: ".count).dropLast(" -->".count))
                var body: [String] = []
                i += 2
                while i < lines.count, lines[i] != "```" { body.append(lines[i]); i += 1 }
                out[name] = body.joined(separator: "\n")
            }
            i += 1
        }
        return out
    }

    @Test func theCommandReferenceIsTheHelpOfEveryCommand() throws {
        let text = try String(contentsOfFile: Self.document, encoding: .utf8)
        let documented = Self.blocks(text)
        let paths = try Self.commandPaths()
        #expect(paths.count > 10)
        var names: Set<String> = []
        for path in paths {
            let name = (["lorweb"] + path).joined(separator: " ")
            names.insert(name)
            let run = try CLI.run(path + ["--help"], threads: nil, environment: Self.environment)
            #expect(run.status == 0, "\(name) --help: \(run.stderr)")
            var help = run.stdout
            while help.hasSuffix("\n") { help.removeLast() }
            guard let block = documented[name] else {
                Issue.record("docs/commands.md has no help of `\(name)`: run `make docs` and commit docs/commands.md")
                continue
            }
            #expect(block == help, "docs/commands.md: the help of `\(name)` is stale: run `make docs` and commit docs/commands.md")
        }
        for extra in Set(documented.keys).subtracting(names).sorted() {
            Issue.record("docs/commands.md documents `\(extra)`, which lorweb no longer has: run `make docs`")
        }
    }
}
