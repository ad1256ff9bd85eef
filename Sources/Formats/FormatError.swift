/// A file that could not be read or written, with the path and what was wrong.
/// Its description is the one-line message the CLI prints.
public struct FormatError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// `text` as an error message quotes a piece of input: in double quotes, cut after `limit`
/// characters, so that a megabyte-long CSV cell or header cannot flood stderr.
public func quotedInput(_ text: some StringProtocol, limit: Int = 200) -> String {
    guard text.count > limit else { return "\"\(text)\"" }
    return "\"\(text.prefix(limit))\"... (\(text.count) characters)"
}
