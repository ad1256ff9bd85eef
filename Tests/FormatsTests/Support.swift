import Foundation
import Testing
@testable import Formats
import Tensor
import TestSupport

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

/// The float32 source values every tensors_*.safetensors fixture was made from.
func fixtureSource() throws -> [String: Tensor] {
    try SafetensorsFile(path: Fixtures.formats("tensors_f32.safetensors")).allTensors()
}
