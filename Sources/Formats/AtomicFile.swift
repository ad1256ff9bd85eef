import Foundation

/// Writes files so that readers see either the old file or the complete new one, never a part.
///
/// Every writer in this target goes through here: the bytes go to a temporary file in the
/// destination's folder (same file system, so the final `rename` is atomic), are flushed to disk
/// with `fsync`, and only then replace the destination. A failure at any point removes the
/// temporary file and throws a `FormatError` naming the destination.
///
/// ```swift
/// try AtomicFile.write(Data("hello\n".utf8), to: "out/notes.txt")
/// try AtomicFile.write(to: "big.bin") { out in
///     for chunk in chunks { try out.write(chunk) }   // streamed, never all in memory
/// }
/// ```
public enum AtomicFile {
    /// Creates the folder `path` (and its parents) if it does not exist; the error names it.
    public static func createFolder(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw FormatError(path, "cannot create the folder: \((error as NSError).localizedDescription)")
        }
    }

    /// Replaces the file at `path` with `bytes` (a `Data`, `[UInt8]`, ...).
    public static func write(_ bytes: some ContiguousBytes, to path: String) throws {
        try write(to: path) { out in try out.write(bytes) }
    }

    /// Replaces the file at `path` with whatever `body` writes to the `Writer` it is given.
    /// If `body` throws, the destination is left untouched and the error is rethrown.
    public static func write(to path: String, _ body: (Writer) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = "\(folder)/.\(url.lastPathComponent)\(temporaryMarker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FormatError(path, "cannot create a file in folder '\(folder)': \(errnoText())")
        }
        let writer = Writer(fd: fd, path: path)
        do {
            try body(writer)
            guard fsync(fd) == 0 else { throw FormatError(path, "cannot flush to disk: \(errnoText())") }
            guard close(fd) == 0 else {
                writer.closed = true
                throw FormatError(path, "cannot close: \(errnoText())")
            }
            writer.closed = true
            guard rename(temporary, path) == 0 else {
                throw FormatError(path, "cannot replace: \(errnoText())")
            }
        } catch {
            if !writer.closed { close(fd) }
            unlink(temporary)
            throw error
        }
        // Make the rename itself durable; a failure here cannot lose the file, so it is ignored.
        let dirfd = open(folder, O_RDONLY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
    }

    /// What follows the destination's name in a temporary file's name, before the writer's pid.
    static let temporaryMarker = ".tmp-"

    /// Removes the temporary files in `folder` whose writer is no longer running: what a process
    /// killed during a write leaves (a training checkpoint's can weigh gigabytes). A live
    /// writer's file is kept. Returns the paths removed.
    @discardableResult
    public static func removeStaleTemporaries(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { name -> String? in
            guard name.hasPrefix("."), let marker = name.range(of: temporaryMarker, options: .backwards),
                  let pid = Int32(name[marker.upperBound...].prefix { $0 != "-" }) else { return nil }
            // kill(pid, 0) fails with ESRCH only when no such process exists.
            guard kill(pid, 0) != 0 && errno == ESRCH else { return nil }
            let path = folder + "/" + name
            return unlink(path) == 0 ? path : nil
        }
    }

    /// The sink handed to `write(to:_:)`'s body; each call appends to the temporary file.
    public final class Writer {
        private let fd: Int32
        private let path: String
        fileprivate var closed = false
        /// Bytes written so far.
        public private(set) var offset = 0

        fileprivate init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
        }

        /// Appends `bytes` (a `Data`, `[UInt8]`, ...).
        public func write(_ bytes: some ContiguousBytes) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }

        /// Appends the bytes of `buffer`, retrying short writes and interrupted calls.
        public func write(_ buffer: UnsafeRawBufferPointer) throws {
            guard var next = buffer.baseAddress else { return }
            var remaining = buffer.count
            while remaining > 0 {
                // Linux caps one write at about 2 GB; smaller calls also keep EINTR retries cheap.
                let n = Foundation.write(fd, next, min(remaining, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FormatError(path, "cannot write: \(errnoText())")
                }
                next += n
                remaining -= n
                offset += n
            }
        }
    }
}

/// The C library's text for the current `errno`, e.g. "No such file or directory".
func errnoText() -> String { String(cString: strerror(errno)) }
