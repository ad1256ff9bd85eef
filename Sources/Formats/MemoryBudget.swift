import Foundation

/// The machine's physical memory, against which every allocation whose size a file declares is
/// checked before it is made: a hostile or damaged header (or a sparse file of terabytes with a
/// valid one) must give an error that says so, not a crash inside the allocator.
public enum MemoryBudget {
    /// Physical memory in bytes (sysconf; /proc/meminfo's MemTotal reads the same on Linux).
    public static let physicalBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages * size : Int.max
    }()

    /// Throws a `FormatError` naming `path` when `bytes` for `what` exceed physical memory.
    public static func require(_ bytes: Int, for what: String, in path: String) throws {
        guard bytes > physicalBytes else { return }
        throw FormatError(path, "\(what) would need \(gigabytes(bytes)) of memory, more than this machine's \(gigabytes(physicalBytes))")
    }

    static func gigabytes(_ bytes: Int) -> String { String(format: "%.1f GB", Double(bytes) / 1e9) }
}
