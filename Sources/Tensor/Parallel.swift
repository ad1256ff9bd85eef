import CBLAS
import CKernels
import Foundation
import Synchronization

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

    /// Restarts this program when OpenBLAS, configured at library load, needs other settings:
    ///
    /// - `OPENBLAS_CORETYPE` when OpenBLAS fell back to its Prescott (SSE3) kernel on a CPU with
    ///   AVX2 or AVX-512. OpenBLAS picks its kernel from the CPU's model number, and a model newer
    ///   than the library (Emerald Rapids, family 6 model 207, under OpenBLAS 0.3.21) gets
    ///   Prescott: sgemm 5x slower than SkylakeX. A user's own OPENBLAS_CORETYPE is kept.
    /// - `OPENBLAS_NUM_THREADS=1` under an address-space limit (`ulimit -v`). At load OpenBLAS
    ///   starts a server thread per core, each reserving a 128 MiB buffer, and a reservation that
    ///   fails is retried for ever: the process hangs, at exit too (exit joins those threads).
    ///   lorweb keeps OpenBLAS single-threaded anyway, so it needs none of them.
    public static func restartIfOpenBLASNeedsOtherSettings() {
        var changed = false
        if getenv("OPENBLAS_CORETYPE") == nil, let core = openblas_get_corename(), String(cString: core) == "Prescott",
           let better = lorweb_openblas_coretype_for_cpu() {
            setenv("OPENBLAS_CORETYPE", better, 1)
            changed = true
        }
        if addressSpaceLimit != nil, getenv("OPENBLAS_NUM_THREADS").map({ String(cString: $0) }) != "1" {
            setenv("OPENBLAS_NUM_THREADS", "1", 1)
            changed = true
        }
        guard changed else { return }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed: carry on as loaded
    }

    /// Why this process cannot run under its address-space limit, or nil: OpenBLAS's buffer
    /// (128 MiB, reserved at the first matrix product) and some working room must fit beside what
    /// is already mapped, or that reservation would be retried for ever instead of failing.
    public static func addressSpaceProblem() -> String? {
        guard let limit = addressSpaceLimit else { return nil }
        let pages = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?
            .split(separator: " ").first.flatMap { Int($0) } ?? 0
        let mapped = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        let needed = mapped + (192 << 20)
        guard limit < needed else { return nil }
        return "the address-space limit (ulimit -v) is \(limit >> 20) MiB; lorweb needs at least \(needed >> 20) MiB "
            + "(\(mapped >> 20) MiB mapped at start, OpenBLAS's 128 MiB buffer and working room)"
    }

    /// `ulimit -v` in bytes, or nil when there is none.
    public static var addressSpaceLimit: Int? {
        var address = rlimit()
        // RLIM_INFINITY is all ones, so "no limit" fails the comparison with Int.max.
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &address) == 0, address.rlim_cur < UInt64(Int.max) else { return nil }
        return Int(address.rlim_cur)
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
///
/// A call made while another is running (from inside a chunk, or from a second thread) runs its
/// chunks on the calling thread alone.
public func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = Runtime.threads
    let chunks = min(threads * 4, max(1, count / max(grain, 1)))
    if threads <= 1 || chunks <= 1 || !WorkerPool.shared.run(count: count, chunks: chunks, threads: threads, body) {
        body(0..<count)
    }
}

/// Threads kept alive between parallel loops. A sampling step runs a thousand loops of a few
/// microseconds each; a dispatch per loop put a thread wake-up (futex, scheduler) on every one of
/// them, 14% of the step at 2 threads. Here idle workers spin for a short while on a generation
/// counter and only then sleep, so back-to-back loops find them awake.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// One parallel loop: its chunks are claimed one at a time by the submitting thread and the
    /// workers. `body` is only read by a thread that has claimed a chunk, so the submitter can
    /// drop it as soon as every chunk has completed, whoever else still holds the job.
    final class Job: @unchecked Sendable {
        var body: ((Range<Int>) -> Void)?
        let count: Int, chunks: Int, helpers: Int
        let next = Atomic<Int>(0)
        let completed = Atomic<Int>(0)

        init(_ body: @escaping (Range<Int>) -> Void, count: Int, chunks: Int, helpers: Int) {
            self.body = body; self.count = count; self.chunks = chunks; self.helpers = helpers
        }

        func work() {
            while true {
                let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if c >= chunks { return }
                run(c)
                completed.wrappingAdd(1, ordering: .releasing)
            }
        }

        // Out of line, so the closure copy it reads is released before the chunk counts as completed.
        @inline(never) private func run(_ c: Int) { body!(count * c / chunks ..< count * (c + 1) / chunks) }
    }

    /// Pause instructions an idle worker spins before it sleeps (tens of microseconds: longer than
    /// the gap between two loops of a step, short enough not to burn a core between steps).
    private static let spinLimit = 2000

    private let busy = Atomic<Bool>(false)
    private let generation = Atomic<Int>(0)
    private let condition = NSCondition()
    private var current: Job?      // guarded by `condition`
    private var sleepers = 0       // guarded by `condition`
    private var workers = 0        // changed only by the thread holding `busy`

    /// Runs the loop over `threads` threads (this one and threads - 1 workers); false, having run
    /// nothing, when the pool is already running a loop.
    func run(count: Int, chunks: Int, threads: Int, _ body: (Range<Int>) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        while workers < threads - 1 {
            let index = workers
            Thread.detachNewThread { [self] in workerLoop(index) }
            workers += 1
        }
        withoutActuallyEscaping(body) { body in
            let job = Job(body, count: count, chunks: chunks, helpers: threads - 1)
            condition.lock()
            current = job
            generation.wrappingAdd(1, ordering: .releasing)
            if sleepers > 0 { condition.broadcast() }
            condition.unlock()
            job.work()
            var spins = 0
            while job.completed.load(ordering: .acquiring) < chunks {
                spins += 1
                if spins < Self.spinLimit { lorweb_cpu_relax() } else { sched_yield() }   // a worker was preempted mid-chunk
            }
            job.body = nil
            condition.lock()
            current = nil
            condition.unlock()
        }
        return true
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinLimit { lorweb_cpu_relax(); continue }
                condition.lock()
                while generation.load(ordering: .acquiring) == seen {
                    sleepers += 1
                    condition.wait()
                    sleepers -= 1
                }
                condition.unlock()
            }
            condition.lock()
            let job = current
            seen = generation.load(ordering: .relaxed)
            condition.unlock()
            // Workers beyond this loop's thread count sit it out (the count can shrink at run time).
            if let job, index < job.helpers { job.work() }
        }
    }
}
