import CBLAS
import CKernels
import Dispatch
import Foundation

/// Process-wide compute settings: how many threads lorweb's kernels use.
///
/// The count comes from `LORWEB_THREADS` (default: all cores) and can be changed at run time
/// (`--threads N` on every command). Kernels split work into chunks whose boundaries never change
/// the arithmetic of any single output element, so results are identical for every thread count.
/// OpenBLAS itself is kept single-threaded: matrix products are tiled and spread over our threads
/// (see `sgemm`), which keeps them deterministic and never oversubscribes the cores.
public enum Runtime {
    nonisolated(unsafe) private static var _threads: Int = {
        openblas_set_num_threads(1)
        // Tensors of a few MB are allocated and freed by the hundred per training step. glibc
        // serves such sizes with fresh mmaps (or trims them off the heap top) and every reuse then
        // page-faults its memory in again: 500k faults, ~10% of a step. Keeping them in the heap
        // makes a freed buffer the next one's without a fault; the peak resident size is unchanged.
        // (mallopt is looked up at run time: <malloc.h> is not part of Swift's Glibc module.)
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        if let symbol = dlsym(nil, "mallopt") {
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3   // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
            _ = mallopt(mmapThreshold, 256 << 20)
            _ = mallopt(trimThreshold, 1 << 30)
        }
        let env = ProcessInfo.processInfo.environment["LORWEB_THREADS"].flatMap { Int($0) }
        return max(1, env ?? ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Threads used by our kernels (matrix products included).
    public static var threads: Int {
        get { _threads }
        set { _threads = max(1, newValue) }
    }

    /// Restarts this program with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to its Prescott
    /// (SSE3) kernel on a CPU with AVX2 or AVX-512. OpenBLAS picks its kernel from the CPU's model
    /// number, and a model newer than the library (Emerald Rapids, family 6 model 207, under
    /// OpenBLAS 0.3.21) gets Prescott: sgemm 5x slower than SkylakeX. The kernel is chosen at
    /// library load, so only a new process can change it. A user's own OPENBLAS_CORETYPE is kept.
    public static func restartIfOpenBLASFellBack() {
        guard getenv("OPENBLAS_CORETYPE") == nil, let core = openblas_get_corename(), String(cString: core) == "Prescott",
              let better = lorweb_openblas_coretype_for_cpu() else { return }
        setenv("OPENBLAS_CORETYPE", better, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")   // exec failed: carry on with the slow kernel
    }

    /// OpenBLAS's build configuration and the kernel it selected (e.g. "Cooperlake" or "Haswell").
    /// `OPENBLAS_CORETYPE` in the environment overrides the autodetected kernel at library load.
    public static var blasConfig: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "?"
        let core = openblas_get_corename().map { String(cString: $0) } ?? "?"
        return "\(config.trimmingCharacters(in: .whitespaces)) core=\(core)"
    }
}

/// Splits `0..<count` into contiguous chunks of at least `grain` items and runs `body` on each,
/// spread over `Runtime.threads` threads when there is more than one chunk. Chunks are handed
/// out in order to whichever thread is free, a few per thread: on a shared machine a preempted
/// thread then delays one small chunk instead of a fixed half of the work. Which thread runs a
/// chunk, and how many chunks there are, never changes any output element's arithmetic.
@inlinable
public func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = Runtime.threads
    let chunks = min(threads * 4, max(1, count / max(grain, 1)))
    if threads <= 1 || chunks <= 1 {
        body(0..<count)
        return
    }
    let queue = ChunkQueue(chunks)
    DispatchQueue.concurrentPerform(iterations: min(threads, chunks)) { _ in
        while let c = queue.next() { body(count * c / chunks ..< count * (c + 1) / chunks) }
    }
}

/// The next unclaimed chunk index, for `parallelFor`'s threads.
public final class ChunkQueue: @unchecked Sendable {
    private var claimed = 0
    private let total: Int
    private let lock = NSLock()

    public init(_ total: Int) { self.total = total }

    public func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard claimed < total else { return nil }
        claimed += 1
        return claimed - 1
    }
}
