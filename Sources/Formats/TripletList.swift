import Foundation

/// A list of analogies a : a' :: b : ?, read from a CSV with a header, for the commands that
/// work on many triplets (`edit --triplets`, `coeffs`, `eval`).
///
/// Columns `a`, `a_prime` and `b` are required (image paths, relative to the CSV's folder unless
/// absolute); optional: `id` (default: the row number), `b_prime` (ground truth), `task`,
/// `family`, `out` (where `edit` writes b', relative to its output folder; kept as written). Other
/// columns are ignored.
public struct TripletList: Equatable {
    public struct Triplet: Equatable, Sendable {
        public var id: String
        public var a: String
        public var aPrime: String
        public var b: String
        public var bPrime: String?
        public var task: String?
        public var family: String?
        public var out: String?

        public init(id: String, a: String, aPrime: String, b: String, bPrime: String? = nil,
                    task: String? = nil, family: String? = nil, out: String? = nil) {
            self.id = id; self.a = a; self.aPrime = aPrime; self.b = b
            self.bPrime = bPrime; self.task = task; self.family = family; self.out = out
        }
    }

    public var triplets: [Triplet]

    public init(_ triplets: [Triplet]) { self.triplets = triplets }

    /// Reads and checks the CSV at `path`, and that every image it names is a regular file that
    /// opens (not decoded), so that a typo in row 900 fails before the work on rows 1-899.
    /// - Throws: `FormatError` naming the file (and line) for an unreadable file, malformed CSV,
    ///   a file beyond `CSV.Limits` (size, rows, line length),
    ///   a missing required column, an empty path, a duplicate id, a table without rows, or an
    ///   image that cannot be read.
    public static func read(_ path: String) throws -> TripletList {
        let list = try make(CSV.read(path, what: "a CSV triplet list"), path: path, folder: (path as NSString).deletingLastPathComponent)
        for t in list.triplets {
            for image in [t.a, t.aPrime, t.b] + (t.bPrime.map { [$0] } ?? []) {
                do { close(try openRegularFile(image).fd) } catch let error as FormatError {
                    throw FormatError(path, "triplet \(quotedInput(t.id)): \(error)")
                }
            }
        }
        return list
    }

    /// Parses CSV text; relative image paths are resolved against `folder`.
    public static func parse(_ text: String, path: String = "<triplets>", folder: String = "") throws -> TripletList {
        try make(CSV.parse(text, path: path), path: path, folder: folder)
    }

    private static func make(_ table: (header: [String], rows: [[String]]), path: String, folder: String) throws -> TripletList {
        let (header, rows) = table
        let names = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func column(_ name: String) -> Int? { names.firstIndex(of: name) }
        guard let ia = column("a"), let iap = column("a_prime"), let ib = column("b") else {
            let missing = ["a", "a_prime", "b"].filter { column($0) == nil }
            throw FormatError(path, "missing column\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")) (header: \(quotedInput(header.joined(separator: ","))); expected at least a,a_prime,b)")
        }
        guard !rows.isEmpty else { throw FormatError(path, "has a header but no triplets") }
        func resolve(_ p: String) -> String { p.hasPrefix("/") || folder.isEmpty ? p : folder + "/" + p }
        var seen = Set<String>(), triplets: [Triplet] = []
        for (i, row) in rows.enumerated() {
            let line = i + 2
            func value(_ index: Int?) -> String? {
                guard let index else { return nil }
                let v = row[index].trimmingCharacters(in: .whitespaces)
                return v.isEmpty ? nil : v
            }
            func required(_ index: Int, _ name: String) throws -> String {
                guard let v = value(index) else { throw FormatError(path, "line \(line): empty \(name) path") }
                return resolve(v)
            }
            let id = value(column("id")) ?? String(i)
            guard seen.insert(id).inserted else { throw FormatError(path, "line \(line): duplicate id \(quotedInput(id))") }
            triplets.append(Triplet(id: id, a: try required(ia, "a"), aPrime: try required(iap, "a_prime"), b: try required(ib, "b"),
                                    bPrime: value(column("b_prime")).map(resolve), task: value(column("task")),
                                    family: value(column("family")), out: value(column("out"))))
        }
        return TripletList(triplets)
    }
}
