import Foundation

// Where tests find the committed fixtures and where they write: one place for every test target.

/// The repository and its committed test fixtures, read in place (no bundle resources).
public enum Fixtures {
    /// The repository's root folder.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Tests/Fixtures.
    public static let root = repository.appendingPathComponent("Tests/Fixtures")

    /// The path of `relative` under Tests/Fixtures, e.g. `Fixtures.path("formats/config.yaml")`.
    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The path of a file in Tests/Fixtures/formats.
    public static func formats(_ name: String) -> String { path("formats/\(name)") }

    /// The path of `relative` under the repository's root, e.g. `Fixtures.inRepository("models/small-world")`.
    public static func inRepository(_ relative: String) -> String { repository.appendingPathComponent(relative).path }
}

/// A new empty folder under the system temporary folder, named after `label` (by default the
/// calling function); remove it with `removeScratch` when done.
public func scratchFolder(_ label: String = #function) throws -> String {
    let safe = label.filter { $0.isLetter || $0.isNumber || $0 == "-" }
    let path = NSTemporaryDirectory() + "lorweb-\(safe)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Removes a scratch folder and everything in it, ignoring errors.
public func removeScratch(_ folder: String) { try? FileManager.default.removeItem(atPath: folder) }

/// A fresh path under the system temporary folder that does not exist yet (for a command to
/// create), named after `label`.
public func scratchPath(_ label: String = #function) -> String {
    let safe = label.filter { $0.isLetter || $0.isNumber || $0 == "-" }
    return NSTemporaryDirectory() + "lorweb-\(safe)-\(UUID().uuidString.prefix(8))"
}
