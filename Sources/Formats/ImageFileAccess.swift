import Foundation

// Whole-file read and atomic write with POSIX error messages ("No such file or directory"),
// which say more than Foundation's generic Cocoa errors on Linux.

/// The bytes of the file at `path`, or a `FormatError` naming the file and the OS error.
func readFileBytes(_ path: String) throws -> Data {
    let fd = open(path, O_RDONLY)
    if fd < 0 { throw FormatError(path, "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) != 0 { throw FormatError(path, "cannot stat: \(String(cString: strerror(errno)))") }
    if (info.st_mode & S_IFMT) == S_IFDIR { throw FormatError(path, "is a directory, not a file") }
    var data = Data(count: Int(info.st_size))
    var filled = 0
    let failure: Int32? = data.withUnsafeMutableBytes { raw in
        while filled < raw.count {
            let n = Foundation.read(fd, raw.baseAddress! + filled, raw.count - filled)
            if n < 0 { if errno == EINTR { continue }; return errno }
            if n == 0 { break }   // the file shrank while we read it; keep what is there
            filled += n
        }
        return nil
    }
    if let failure { throw FormatError(path, "read failed: \(String(cString: strerror(failure)))") }
    return data.prefix(filled)
}

/// The UTF-8 text of the file at `path`; `what` names the expected content in the error for
/// other bytes. Reads through `readFileBytes` rather than Foundation, whose readers leak 4 KB per
/// call on an empty file (found by fuzzing the analogy-folder reader: a sample's caption is read
/// at every step).
public func readTextFile(_ path: String, what: String) throws -> String {
    guard let text = String(validating: try readFileBytes(path), as: UTF8.self) else {
        throw FormatError(path, "is not UTF-8 text (expected \(what))")
    }
    return text
}

/// Writes `data` to a temporary file next to `path`, flushes it, and renames it over `path`.
/// On any failure the temporary file is removed, so no partial output is ever visible.
func writeFileAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    if fd < 0 { throw FormatError(path, "cannot create file in \(folder): \(String(cString: strerror(errno)))") }
    var failure: String?
    data.withUnsafeBytes { raw in
        var written = 0
        while written < raw.count {
            let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                failure = "write failed: \(String(cString: strerror(errno)))"
                return
            }
            written += n
        }
    }
    if failure == nil && fsync(fd) != 0 { failure = "fsync failed: \(String(cString: strerror(errno)))" }
    if close(fd) != 0 && failure == nil { failure = "close failed: \(String(cString: strerror(errno)))" }
    if failure == nil && rename(temporary, path) != 0 { failure = "cannot rename into place: \(String(cString: strerror(errno)))" }
    if let failure {
        unlink(temporary)
        throw FormatError(path, failure)
    }
}
