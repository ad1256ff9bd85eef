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

    /// Parses CSV text (RFC 4180: quoted fields may hold commas, doubled quotes and line breaks;
    /// LF or CRLF line ends; a UTF-8 byte-order mark is skipped) into the header and the rows.
    /// Blank lines are skipped.
    /// - Throws: `FormatError` naming `path` and the line for an unterminated quote, text after a
    ///   closing quote, a row whose length differs from the header's, or an empty table.
    public static func parse(_ text: String, path: String = "<csv>") throws -> (header: [String], rows: [[String]]) {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = [], field = "", line = 1, recordLine = 1
        var inQuotes = false, wasQuoted = false, afterQuote = false
        var chars = text.unicodeScalars.makeIterator()
        if text.unicodeScalars.first == "\u{FEFF}" { _ = chars.next() }
        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].isEmpty && !wasQuoted) { records.append((recordLine, fields)) }
            fields = []; field = ""; wasQuoted = false; afterQuote = false
        }
        var pending: Unicode.Scalar? = nil
        while let c = pending ?? chars.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let next = chars.next() {
                        if next == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = next }
                    } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case ",":
                fields.append(field); field = ""; afterQuote = false
            case "\r":
                continue
            case "\n":
                endRecord(); line += 1; recordLine = line
            case "\"" where field.isEmpty && !afterQuote:
                inQuotes = true; wasQuoted = true
            default:
                guard !afterQuote else { throw FormatError(path, "line \(line): text after a closing quote") }
                field.unicodeScalars.append(c)
            }
        }
        guard !inQuotes else { throw FormatError(path, "line \(recordLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { endRecord() }
        guard let header = records.first?.fields else { throw FormatError(path, "is empty: expected a header line") }
        for r in records.dropFirst() where r.fields.count != header.count {
            throw FormatError(path, "line \(r.line) has \(r.fields.count) fields but the header has \(header.count)")
        }
        return (header, records.dropFirst().map(\.fields))
    }
}
