import Foundation

// The safetensors layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the
// data section. The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// with offsets relative to the data section, plus an optional "__metadata__" of string pairs.
//
// Nothing in a file is trusted until the whole header has been checked: the checks below make
// every later pointer computation in `SafetensorsFile` safe, so a hostile or truncated file can
// only produce a `FormatError`, never a read outside the mapping. Gaps between tensors and bytes
// after the last one are tolerated (they are harmless); overlaps are not.

/// Where one tensor lives in a safetensors file, as its header describes it.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Number of elements (1 for a scalar of shape `[]`, 0 if any dimension is 0).
    public let count: Int
    /// Byte range within the data section (the header's `data_offsets`).
    public let dataOffsets: Range<Int>
}

/// A validated safetensors header.
struct SafetensorsHeader {
    /// The largest header accepted, as in the reference implementation (100 MB).
    static let maxHeaderBytes = 100_000_000

    /// Tensors sorted by name.
    let tensors: [SafetensorsTensorInfo]
    let metadata: [String: String]
    /// Offset of the data section from the start of the file (8 + header length).
    let dataStart: Int

    /// Validates the header at the start of `file` (the whole file's bytes).
    init(file: UnsafeRawBufferPointer, path: String) throws {
        func fail(_ problem: String) -> FormatError { FormatError(path, problem) }
        guard file.count >= 8 else {
            throw fail("file is \(file.count) bytes, too short for a safetensors header (8-byte length first)")
        }
        let declared = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(Self.maxHeaderBytes) else {
            throw fail("header length \(declared) exceeds the \(Self.maxHeaderBytes)-byte limit (not a safetensors file?)")
        }
        let length = Int(declared)
        guard length <= file.count - 8 else {
            throw fail("header length \(length) is larger than the \(file.count - 8) bytes after the length field (file truncated?)")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<(8 + length)])
        guard let text = String(validating: headerBytes, as: UTF8.self) else {
            throw fail("header is not valid UTF-8")
        }
        let json: JSONValue
        do {
            json = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw fail("header is not valid JSON (\(Self.reason(error)))")
        }
        guard case .object(let entries) = json else { throw fail("header is not a JSON object") }

        dataStart = 8 + length
        let dataSize = file.count - dataStart
        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensorInfo] = []
        for (name, value) in entries {
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { throw fail("__metadata__ is not an object of strings") }
                for (key, v) in pairs {
                    guard case .string(let s) = v else { throw fail("__metadata__ value for '\(key)' is not a string") }
                    metadata[key] = s
                }
            } else {
                tensors.append(try Self.tensor(name, value, dataSize: dataSize, fail: fail))
            }
        }
        tensors.sort { $0.name < $1.name }

        // Non-overlap: sorted by start, each tensor must begin at or after the previous end.
        let byStart = tensors.sorted { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        for (a, b) in zip(byStart, byStart.dropFirst()) where b.dataOffsets.lowerBound < a.dataOffsets.upperBound {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap (bytes \(Self.text(a.dataOffsets)) and \(Self.text(b.dataOffsets)))")
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Checks one tensor entry: known dtype, sane shape, offsets in range and matching the size.
    private static func tensor(_ name: String, _ value: JSONValue, dataSize: Int,
                               fail: (String) -> FormatError) throws -> SafetensorsTensorInfo
    {
        let what = "tensor '\(name)'"
        guard case .object(let fields) = value else { throw fail("\(what): entry is not an object") }
        guard case .string(let dtypeName)? = fields["dtype"] else { throw fail("\(what): missing or non-string 'dtype'") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw fail("\(what): unknown dtype '\(dtypeName)'")
        }
        guard case .array(let dims)? = fields["shape"] else { throw fail("\(what): missing or non-array 'shape'") }
        var shape: [Int] = []
        var count = 1
        for dim in dims {
            guard case .int(let d) = dim else { throw fail("\(what): shape \(JSONValue.array(dims)) has a non-integer dimension") }
            guard d >= 0 else { throw fail("\(what): shape \(JSONValue.array(dims)) has a negative dimension") }
            shape.append(d)
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("\(what): element count of shape \(JSONValue.array(dims)) overflows") }
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw fail("\(what): byte size of shape \(shape) in \(dtype.rawValue) overflows") }

        guard case .array(let offsets)? = fields["data_offsets"], offsets.count == 2,
              case .int(let begin) = offsets[0], case .int(let end) = offsets[1]
        else { throw fail("\(what): 'data_offsets' is not a pair of integers [begin, end]") }
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw fail("\(what): data_offsets [\(begin), \(end)] lie outside the data section of \(dataSize) bytes")
        }
        guard end - begin == byteCount else {
            throw fail("\(what): data_offsets [\(begin), \(end)] hold \(end - begin) bytes but shape \(shape) in \(dtype.rawValue) needs \(byteCount)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, count: count, dataOffsets: begin..<end)
    }

    private static func text(_ r: Range<Int>) -> String { "[\(r.lowerBound), \(r.upperBound))" }

    /// The decoder's explanation without Swift type names, for the one-line message.
    private static func reason(_ error: Error) -> String {
        guard case DecodingError.dataCorrupted(let context) = error else { return "\(error)" }
        if let underlying = context.underlyingError as NSError?,
           let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        return context.debugDescription
    }
}

/// Any JSON value, with integers kept exact (shapes and offsets must not pass through Double).
enum JSONValue: Decodable, CustomStringConvertible {
    case null, bool(Bool), int(Int), number(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .number(let d): "\(d)"
        case .string(let s): "\"\(s)\""
        case .array(let a): "[\(a.map(\.description).joined(separator: ", "))]"
        case .object: "{...}"
        }
    }
}
