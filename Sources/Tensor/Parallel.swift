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
