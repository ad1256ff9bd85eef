import Foundation

/// JSON files for results and reports: pretty-printed, keys sorted (so files diff cleanly and
/// identical results give identical bytes), a final newline, written atomically.
///
/// ```swift
/// struct Eval: Encodable { let accuracy: Double; let samples: Int }
/// try JSONFile.write(Eval(accuracy: 0.93, samples: 120), to: "eval.json")
/// try JSONFile.write(object: ["layers": 494, "n": 32], to: "summary.json")
/// ```
public enum JSONFile {
    /// The encoded bytes of `value`, as `write` stores them.
    /// - Throws: `FormatError` (with `path` as the name) if the value cannot be encoded,
    ///   for example a NaN or infinite number, which JSON cannot represent.
    public static func encode(_ value: some Encodable, path: String = "<json>") throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(value) + Data("\n".utf8) } catch {
            throw FormatError(path, "cannot encode as JSON: \(describe(error))")
        }
    }

    /// `value` as one line of JSON with sorted keys: the form stored inside other files (a
    /// checkpoint's run configuration), byte-identical from run to run, unlike JSONEncoder's
    /// default key order, which follows the process's hash seed.
    public static func line(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Writes an `Encodable` value to `path`.
    public static func write(_ value: some Encodable, to path: String) throws {
        try AtomicFile.write(try encode(value, path: path), to: path)
    }

    /// Writes a dictionary of JSON-compatible values (strings, numbers, bools, arrays,
    /// dictionaries, `NSNull`) to `path`.
    public static func write(object: [String: Any], to path: String) throws {
        guard JSONSerialization.isValidJSONObject(object) else {
            throw FormatError(path, "cannot encode as JSON: the dictionary holds a value that is not a JSON type, NaN or infinity")
        }
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw FormatError(path, "cannot encode as JSON: \(describe(error))")
        }
        try AtomicFile.write(data + Data("\n".utf8), to: path)
    }

    /// EncodingError's message without the coding-path dump.
    private static func describe(_ error: Error) -> String {
        if case EncodingError.invalidValue(let value, let context) = error {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "invalid value \(value)\(path.isEmpty ? "" : " at '\(path)'") (\(context.debugDescription))"
        }
        return "\(error)"
    }
}
