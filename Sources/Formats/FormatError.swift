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
