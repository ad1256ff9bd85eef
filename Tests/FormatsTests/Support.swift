import Foundation
import Testing
@testable import Formats
import Tensor

/// The committed fixtures (Tests/Fixtures, copied next to the test bundle by SwiftPM), and a
/// fresh folder per test for files we write.
enum Fixtures {
    static let root: URL = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("Tests/Fixtures was not copied into the test bundle; check Package.swift resources")
        }
        return url
    }()

    /// Path of a file in Tests/Fixtures/formats.
    static func formats(_ name: String) -> String { root.appendingPathComponent("formats/\(name)").path }
}

/// A new empty folder under the system temporary folder.
func temporaryFolder(_ label: String = #function) throws -> String {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "lorweb-\(safe)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs `body` and returns the `FormatError` it throws, recording an issue if it throws nothing
/// or something else.
func formatError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> FormatError? {
    do {
        try body()
        Issue.record("expected a FormatError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let e as FormatError {
        return e
    } catch {
        Issue.record("expected a FormatError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Bitwise equality, except that any NaN equals any NaN.
func sameValues(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in (x.isNaN && y.isNaN) || x.bitPattern == y.bitPattern }
}

/// The float32 source values every tensors_*.safetensors fixture was made from.
func fixtureSource() throws -> [String: Tensor] {
    try SafetensorsFile(path: Fixtures.formats("tensors_f32.safetensors")).allTensors()
}
