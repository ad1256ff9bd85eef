import Testing
@testable import Formats
@Test func formatErrorNamesPath() { #expect(FormatError("a.png", "bad").description == "a.png: bad") }
