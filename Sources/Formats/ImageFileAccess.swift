import Foundation

// Whole-file reads with POSIX error messages ("No such file or directory"), which say more than
// Foundation's generic Cocoa errors on Linux.

/// Opens the regular file at `path` for reading and returns the descriptor and its status.
/// O_NONBLOCK keeps `open` from waiting for a writer on a FIFO, so a FIFO, a device, a socket or a
/// folder is refused by the `fstat` that follows instead of blocking or reading as empty.
public func openRegularFile(_ path: String) throws -> (fd: Int32, info: stat) {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    if fd < 0 { throw FormatError(path, "cannot open: \(errnoText())") }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        let problem = errnoText()
        close(fd)
        throw FormatError(path, "cannot stat: \(problem)")
    }
    let kind = info.st_mode & S_IFMT
    guard kind == S_IFREG else {
        close(fd)
        let what = kind == S_IFDIR ? "a directory" : kind == S_IFIFO ? "a FIFO (named pipe)" : kind == S_IFCHR || kind == S_IFBLK ? "a device"
            : kind == S_IFSOCK ? "a socket" : "not a regular file"
        throw FormatError(path, "is \(what), not a regular file")
    }
    return (fd, info)
}

/// The bytes of the regular file at `path` (its first `limit` bytes when it is longer), or a
/// `FormatError` naming the file and the problem. A whole file larger than the memory budget (a
/// sparse file of terabytes costs no disk) is refused before anything is allocated.
public func readFileBytes(_ path: String, limit: Int = .max) throws -> Data {
    let (fd, info) = try openRegularFile(path)
    defer { close(fd) }
    let count = min(Int(info.st_size), limit)
    try MemoryBudget.require(count, for: "reading the file", in: path)
    var data = Data(count: count)
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
