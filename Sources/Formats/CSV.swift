import Foundation

/// Comma-separated tables (RFC 4180), for per-layer statistics that people open in a
/// spreadsheet or `pandas.read_csv`.
///
/// Fields holding a comma, a double quote, CR or LF are quoted, with quotes doubled; lines end in
/// CRLF as the RFC (and Python's `csv` module) write them. Numbers use Swift's shortest
/// round-trip spelling, so `Float(text)` gives back the same value.
///
/// ```swift
/// try CSV.write(header: ["layer", "rank", "energy"],
///               rows: [["transformer_blocks.0.attn.to_q", 4, 0.93]], to: "layers.csv")
/// ```
public enum CSV {
    /// One cell: text or a number.
    public enum Field: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
        case text(String)
        case int(Int)
        case float(Float)
        case double(Double)

        public init(stringLiteral value: String) { self = .text(value) }
        public init(integerLiteral value: Int) { self = .int(value) }
        public init(floatLiteral value: Double) { self = .double(value) }

        /// The cell as it appears in the file, quoted where needed.
        var encoded: String {
            switch self {
            case .int(let v): return String(v)
            case .float(let v): return "\(v)"
            case .double(let v): return "\(v)"
            case .text(let s):
                guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return s }
                return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
        }
    }

    /// The table as CSV text: the header line, then one line per row.
    /// - Throws: `FormatError` (with `path` as the name) if a row's length differs from the header's.
    public static func encode(header: [String], rows: [[Field]], path: String = "<csv>") throws -> String {
        var lines = [header.map { Field.text($0).encoded }.joined(separator: ",")]
        for (i, row) in rows.enumerated() {
            guard row.count == header.count else {
                throw FormatError(path, "row \(i + 1) has \(row.count) fields but the header has \(header.count)")
            }
            lines.append(row.map(\.encoded).joined(separator: ","))
        }
        return lines.map { $0 + "\r\n" }.joined()
    }

    /// Writes the table to `path` atomically.
    public static func write(header: [String], rows: [[Field]], to path: String) throws {
        try AtomicFile.write(Data(try encode(header: header, rows: rows, path: path).utf8), to: path)
    }

    /// What a table read from a file may hold: a triplet list or an index has one short line per
    /// row, so a file beyond these is a mistake or a bomb, refused while it is read (the size
    /// before reading), with memory bounded by them.
    public struct Limits: Sendable {
        public var bytes = 256 << 20
        public var rows = 1_000_000
        public var lineBytes = 1 << 20
        public init() {}
    }

    /// Parses CSV text (RFC 4180: quoted fields may hold commas, doubled quotes and line breaks;
    /// LF or CRLF line ends; a UTF-8 byte-order mark is skipped) into the header and the rows.
    /// Blank lines are skipped.
    /// - Throws: `FormatError` naming `path` and the line for an unterminated quote, text after a
    ///   closing quote, a row whose length differs from the header's, or an empty table.
    public static func parse(_ text: String, path: String = "<csv>") throws -> (header: [String], rows: [[String]]) {
        var parser = Parser(path: path, what: "CSV", limits: nil)
        try parser.feed(text.utf8)
        return try parser.finish()
    }

    /// Reads and parses the CSV file at `path` in pieces, as `parse` does, refusing a file larger
    /// than `limits.bytes` before reading it and a line or a row count beyond the limits when
    /// the reader reaches it.
    /// - Throws: `FormatError` naming the file (and line) for an unreadable or non-UTF-8 file, a
    ///   limit exceeded, or malformed CSV as `parse` describes.
    public static func read(_ path: String, what: String, limits: Limits = Limits()) throws -> (header: [String], rows: [[String]]) {
        let (fd, info) = try openRegularFile(path)
        defer { close(fd) }
        guard Int(info.st_size) <= limits.bytes else {
            throw FormatError(path, "holds \(info.st_size) bytes, more than the \(limits.bytes) a CSV file may hold (expected \(what))")
        }
        var parser = Parser(path: path, what: what, limits: limits)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw FormatError(path, "read failed: \(errnoText())") }
            if n == 0 { break }
            try parser.feed(chunk[..<n])
        }
        return try parser.finish()
    }

    /// The RFC 4180 state machine over UTF-8 bytes (its delimiters are all ASCII, so a multi-byte
    /// character never looks like one).
    struct Parser {
        let path: String, what: String
        let limits: Limits?
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = [], field: [UInt8] = []
        var line = 1, recordLine = 1, recordBytes = 0, started = false
        var inQuotes = false, wasQuoted = false, afterQuote = false, quoteInQuotes = false

        init(path: String, what: String, limits: Limits?) { self.path = path; self.what = what; self.limits = limits }

        mutating func endField() throws {
            guard let text = String(validating: field, as: UTF8.self) else {
                throw FormatError(path, "line \(recordLine) is not UTF-8 text (expected \(what))")
            }
            fields.append(text)
            field.removeAll(keepingCapacity: true)
        }

        /// The next bytes of the text; the first piece must hold a byte-order mark whole.
        mutating func feed<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws {
            var bytes = bytes[...]
            if !started, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
            started = true
            for c in bytes { try feed(c) }
        }

        mutating func endRecord() throws {
            try endField()
            if !(fields.count == 1 && fields[0].isEmpty && !wasQuoted) {
                if let limits, records.count > limits.rows {
                    throw FormatError(path, "has more than \(limits.rows) rows, the most a list may hold (split it)")
                }
                records.append((recordLine, fields))
            }
            fields = []; wasQuoted = false; afterQuote = false; recordBytes = 0
        }

        private mutating func feed(_ c: UInt8) throws {
            recordBytes += 1
            if let limits, recordBytes > limits.lineBytes {
                throw FormatError(path, "line \(recordLine) is longer than \(limits.lineBytes) bytes, the most a line may hold")
            }
            if quoteInQuotes {
                quoteInQuotes = false
                if c == UInt8(ascii: "\"") { field.append(c); return }
                inQuotes = false; afterQuote = true
            }
            if inQuotes {
                if c == UInt8(ascii: "\"") { quoteInQuotes = true; return }
                if c == UInt8(ascii: "\n") { line += 1 }
                field.append(c)
                return
            }
            switch c {
            case UInt8(ascii: ","):
                try endField(); afterQuote = false
            case UInt8(ascii: "\r"):
                return
            case UInt8(ascii: "\n"):
                try endRecord(); line += 1; recordLine = line
            case UInt8(ascii: "\"") where field.isEmpty && !afterQuote:
                inQuotes = true; wasQuoted = true
            default:
                guard !afterQuote else { throw FormatError(path, "line \(line): text after a closing quote") }
                field.append(c)
            }
        }

        mutating func finish() throws -> (header: [String], rows: [[String]]) {
            if quoteInQuotes { quoteInQuotes = false; inQuotes = false; afterQuote = true }
            guard !inQuotes else { throw FormatError(path, "line \(recordLine): a quoted field is never closed") }
            if !field.isEmpty || !fields.isEmpty || wasQuoted { try endRecord() }
            guard let header = records.first?.fields else { throw FormatError(path, "is empty: expected a header line") }
            for r in records.dropFirst() where r.fields.count != header.count {
                throw FormatError(path, "line \(r.line) has \(r.fields.count) fields but the header has \(header.count)")
            }
            return (header, records.dropFirst().map(\.fields))
        }
    }
}
