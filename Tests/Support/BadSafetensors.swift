import Testing

// Crafted bad safetensors files, built from one good file: read by the reader's tests
// (FormatsTests) and by `lorweb inspect`'s (CLITests).

/// A well-formed two-tensor file: "a" F32 [2] then "b" F16 [3] (14 data bytes).
private let goodHeader = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]}}"#

private func file(_ header: String, data: Int = 14, length: UInt64? = nil) -> [UInt8] {
    file(Array(header.utf8), data: data, length: length)
}

private func file(_ header: [UInt8], data: Int = 14, length: UInt64? = nil) -> [UInt8] {
    var out: [UInt8] = []
    withUnsafeBytes(of: (length ?? UInt64(header.count)).littleEndian) { out += $0 }
    return out + header + [UInt8](repeating: 0x3C, count: data)
}

/// Header of one tensor "t" with the given entry fields.
private func one(_ entry: String) -> String { #"{"t":{"# + entry + "}}" }

public struct BadFile: CustomTestStringConvertible, Sendable {
    public let name: String
    public let bytes: [UInt8]
    /// Text the error's problem must contain.
    public let expected: String
    public var testDescription: String { name }
}

/// The good file the bad ones are made from: "a" F32 [2] then "b" F16 [3].
public let goodSafetensorsFile = file(goodHeader)
private let good = goodSafetensorsFile
private let headerEnd = 8 + goodHeader.utf8.count

/// Malformed safetensors files, each with the text its error must contain.
public let badFiles: [BadFile] = [
    BadFile(name: "empty", bytes: [], expected: "too short"),
    BadFile(name: "truncated-at-4", bytes: Array(good.prefix(4)), expected: "too short"),
    BadFile(name: "truncated-at-8", bytes: Array(good.prefix(8)), expected: "larger than the 0 bytes after the length field"),
    BadFile(name: "truncated-mid-header", bytes: Array(good.prefix(8 + 40)), expected: "larger than the 40 bytes"),
    BadFile(name: "truncated-mid-data", bytes: Array(good.prefix(headerEnd + 10)), expected: "tensor 'b': data_offsets [8, 14] lie outside the data section of 10 bytes"),
    BadFile(name: "header-longer-than-file", bytes: file(goodHeader, length: 10_000), expected: "header length 10000 is larger than"),
    BadFile(name: "header-length-absurd", bytes: file(goodHeader, length: 1 << 60), expected: "exceeds the 100000000-byte limit"),
    BadFile(name: "header-length-max", bytes: file(goodHeader, length: .max), expected: "exceeds the 100000000-byte limit"),
    BadFile(name: "invalid-utf8", bytes: file([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]), expected: "not valid UTF-8"),
    BadFile(name: "invalid-json", bytes: file(#"{"a": {"dtype": "F32","#), expected: "not valid JSON"),
    BadFile(name: "not-an-object", bytes: file("[1, 2, 3]"), expected: "not a JSON object"),
    BadFile(name: "entry-not-object", bytes: file(#"{"t": 5}"#), expected: "tensor 't': entry is not an object"),
    BadFile(name: "unknown-dtype", bytes: file(one(#""dtype":"F17","shape":[2],"data_offsets":[0,8]"#)), expected: "tensor 't': unknown dtype 'F17'"),
    BadFile(name: "missing-dtype", bytes: file(one(#""shape":[2],"data_offsets":[0,8]"#)), expected: "missing or non-string 'dtype'"),
    BadFile(name: "missing-offsets", bytes: file(one(#""dtype":"F32","shape":[2]"#)), expected: "'data_offsets' is not a pair of integers"),
    BadFile(name: "offsets-three", bytes: file(one(#""dtype":"F32","shape":[2],"data_offsets":[0,4,8]"#)), expected: "'data_offsets' is not a pair"),
    BadFile(name: "offsets-beyond-data", bytes: file(one(#""dtype":"F32","shape":[100],"data_offsets":[0,400]"#)), expected: "data_offsets [0, 400] lie outside the data section of 14 bytes"),
    BadFile(name: "offsets-negative", bytes: file(one(#""dtype":"F32","shape":[2],"data_offsets":[-8,0]"#)), expected: "lie outside the data section"),
    BadFile(name: "offsets-reversed", bytes: file(one(#""dtype":"F32","shape":[2],"data_offsets":[8,0]"#)), expected: "lie outside the data section"),
    BadFile(name: "offsets-huge", bytes: file(one(#""dtype":"F32","shape":[2],"data_offsets":[0,1e30]"#)), expected: "not a pair of integers"),
    BadFile(name: "overlapping", bytes: file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#),
            expected: "tensors 'a' and 'b' overlap"),
    BadFile(name: "shape-size-mismatch", bytes: file(one(#""dtype":"F32","shape":[3],"data_offsets":[0,8]"#)), expected: "hold 8 bytes but shape [3] in F32 needs 12"),
    BadFile(name: "negative-shape", bytes: file(one(#""dtype":"F32","shape":[-2],"data_offsets":[0,8]"#)), expected: "negative dimension"),
    BadFile(name: "fractional-shape", bytes: file(one(#""dtype":"F32","shape":[1.5],"data_offsets":[0,8]"#)), expected: "non-integer dimension"),
    BadFile(name: "count-overflow", bytes: file(one(#""dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]"#)), expected: "element count of shape [4294967296, 4294967296] overflows"),
    BadFile(name: "bytes-overflow", bytes: file(one(#""dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]"#)), expected: "byte size of shape [2305843009213693952] in F64 overflows"),
    BadFile(name: "metadata-not-strings", bytes: file(#"{"__metadata__":{"step":250}}"#), expected: "__metadata__ value for 'step' is not a string"),
]
