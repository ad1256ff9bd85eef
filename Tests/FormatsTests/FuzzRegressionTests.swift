import Foundation
import Testing
@testable import Formats

// Inputs the fuzzers in Fuzz/ found, minimised, kept so the fixes stay fixed. Each must give a
// FormatError (or parse), never trap. See Fuzz/ and `make fuzz`.

/// fuzz-config: Yams.load force-unwraps a mapping key as a string and traps on a key that is a
/// mapping or a list. The first is hand-minimised; the second is the fuzzer's smallest crasher.
@Test(arguments: [
    Array("config:\n  ? {a: 1}\n  : 2\n".utf8),
    [0x63, 0x6F, 0x6E, 0x35, 0x66, 0x69, 0x67, 0x3A, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x3A, 0x0A, 0x20, 0x20, 0x3F, 0x20, 0x6E, 0x65, 0x74, 0x66, 0x69, 0x67, 0x3A, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x3A, 0x0A, 0x20, 0x20, 0x3F, 0x20, 0x6E, 0x65, 0x74, 0x77, 0x6F, 0x72, 0x61, 0x20, 0x20, 0x6D, 0x6F, 0x20, 0x66, 0x61, 0x6C, 0x20, 0x2C],
])
func configWithANonScalarKeyIsAnError(_ bytes: [UInt8]) {
    let error = formatError { _ = try LoRWeBAdapterConfig(yaml: String(decoding: bytes, as: UTF8.self), path: "crash.yaml") }
    #expect(error?.problem.contains("a mapping key is a") == true, "\(String(describing: error))")
}

/// Aliases that expand a short document exponentially ("billion laughs") stop at the node cap.
@Test func configAliasBombIsRefused() {
    var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in 1..<8 { yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
    yaml += "config: *a7\n"
    let error = formatError { _ = try LoRWeBAdapterConfig(yaml: yaml, path: "bomb.yaml") }
    #expect(error?.problem.contains("more than 100000 YAML nodes") == true, "\(String(describing: error))")
}
