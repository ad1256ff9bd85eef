import Foundation

/// An advisory lock on a folder that one command writes for a long time (a training run, a
/// batch's output folder): an exclusive `flock` on a lock file inside it that holds the holder's
/// pid. A second writer is refused at once, naming that pid, instead of waiting or silently
/// interleaving its files with the first's. The kernel drops the lock when the holder exits,
/// however it ends, so a killed run never leaves the folder locked.
///
/// ```swift
/// let lock = try FolderLock(folder: "runs/lorweb")
/// defer { lock.release() }
/// ```
public final class FolderLock {
    /// The lock file's name for `purpose` (nil: the folder as a whole).
    public static func fileName(_ purpose: String? = nil) -> String { purpose.map { ".lorweb-\($0).lock" } ?? ".lorweb.lock" }

    public let folder: String
    public let path: String
    /// Whether the folder was made for this lock; `release` then removes it if it is still empty,
    /// so a command that fails before writing anything leaves nothing behind.
    public let createdFolder: Bool
    private var fd: Int32

    /// Creates `folder` if needed (its parent must exist) and takes the lock.
    /// - Throws: `FormatError` naming the folder and the holder's pid when another process holds it.
    public init(folder: String, purpose: String? = nil) throws {
        self.folder = folder
        path = folder + "/" + Self.fileName(purpose)
        createdFolder = mkdir(folder, 0o755) == 0
        guard createdFolder || errno == EEXIST else { throw FormatError(folder, "cannot create the folder: \(errnoText())") }
        do { fd = try Self.lock(path, folder: folder) } catch {
            if createdFolder { rmdir(folder) }
            throw error
        }
    }

    private static func lock(_ path: String, folder: String) throws -> Int32 {
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FormatError(path, "cannot create the lock file: \(errnoText())") }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let busy = errno == EWOULDBLOCK
                let problem = errnoText()
                var bytes = [UInt8](repeating: 0, count: 32)
                let n = pread(fd, &bytes, bytes.count, 0)
                close(fd)
                guard busy else { throw FormatError(path, "cannot lock: \(problem)") }
                let pid = String(decoding: bytes.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                throw FormatError(folder, "is being written by another lorweb process (pid \(pid.isEmpty ? "unknown" : pid)); "
                                  + "wait for it to finish or choose another folder")
            }
            // The previous holder unlinks the file on release; if it did so between our open and
            // flock, we hold a lock on a file nobody else will open: start again.
            var held = stat(), named = stat()
            guard fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_dev == named.st_dev, held.st_ino == named.st_ino else {
                close(fd)
                continue
            }
            let pid = Array("\(getpid())\n".utf8)
            guard ftruncate(fd, 0) == 0, pwrite(fd, pid, pid.count, 0) == pid.count else {
                let problem = errnoText()
                close(fd)
                throw FormatError(path, "cannot write the lock file: \(problem)")
            }
            return fd
        }
    }

    /// Removes the lock file and drops the lock (and the folder, if this lock made it and it is empty).
    public func release() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
        if createdFolder { rmdir(folder) }
    }

    deinit { release() }
}
