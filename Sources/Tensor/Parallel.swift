import CBLAS
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

    /// OpenBLAS's build configuration and the kernel it selected (e.g. "Cooperlake" or "Haswell").
    /// `OPENBLAS_CORETYPE` in the environment overrides the autodetected kernel at library load.
    public static var blasConfig: String {
        let config = openblas_get_config().map { String(cString: $0) } ?? "?"
        let core = openblas_get_corename().map { String(cString: $0) } ?? "?"
        return "\(config.trimmingCharacters(in: .whitespaces)) core=\(core)"
    }
}

/// Splits `0..<count` into at most `Runtime.threads` contiguous chunks of at least `grain`
/// items and runs `body` on each chunk, in parallel when there is more than one.
@inlinable
public func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let chunks = min(Runtime.threads, max(1, count / max(grain, 1)))
    if chunks <= 1 {
        body(0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks, hi = count * (c + 1) / chunks
        body(lo..<hi)
    }
}
