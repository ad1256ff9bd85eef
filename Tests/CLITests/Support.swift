import Foundation
import Testing
import Formats
import TestSupport

extension CLI {
    /// The repository's Tests/Fixtures (read in place: these tests need no bundle resources).
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
}

/// A new empty folder under the system temporary folder.
func scratchFolder(_ label: String = #function) throws -> String {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "lorweb-cli-\(safe)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
