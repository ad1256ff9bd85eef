import Foundation
import Tensor

/// The memory this process may use, against which every allocation whose size a file or an option
/// declares is checked before it is made: a hostile or damaged header (or a sparse file of
/// terabytes with a valid one, or `--rank 100000000`) must give an error that says so, not a
/// crash inside the allocator or an OpenBLAS buffer allocator retrying for ever.
public enum MemoryBudget {
    /// Physical memory in bytes (sysconf; /proc/meminfo's MemTotal reads the same on Linux).
    public static let physicalBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages * size : Int.max
    }()

    /// The smallest of physical memory, the address-space limit (`ulimit -v`) and the cgroup v2
    /// `memory.max` of a container, with the name of the one that binds: a check against physical
    /// memory alone lets a container's process be killed, or spin in malloc failures, instead.
    public static let limit: (bytes: Int, source: String) = {
        var candidates = [(physicalBytes, "this machine's memory")]
        if let address = Runtime.addressSpaceLimit {
            candidates.append((address, "the address-space limit (ulimit -v)"))
        }
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let bytes = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            candidates.append((bytes, "the cgroup's memory.max"))
        }
        return candidates.min { $0.0 < $1.0 }!
    }()

    /// Throws a `FormatError` naming `path` when `bytes` for `what` exceed the limit.
    public static func require(_ bytes: Int, for what: String, in path: String) throws {
        if let problem = excess(Double(bytes), for: what) { throw FormatError(path, problem) }
    }

    /// Why `bytes` for `what` cannot be had, or nil when they fit the limit. Estimates are
    /// computed in floating point, so absurd options give a number instead of an overflow.
    public static func excess(_ bytes: Double, for what: String) -> String? {
        guard bytes > Double(limit.bytes) else { return nil }
        return "\(what) would need \(gigabytes(bytes)) of memory, more than \(limit.source) (\(gigabytes(Double(limit.bytes))))"
    }

    static func gigabytes(_ bytes: Double) -> String { String(format: "%.1f GB", bytes / 1e9) }
}
