import Dispatch
import Testing
@testable import Tensor
import TestSupport

@Suite struct ParallelForTests {
    /// Every index is visited exactly once: by a loop on the worker pool, by loops nested in its
    /// chunks (they run on their caller), by loops started from several threads at once (one gets
    /// the pool, the others run alone), and after the thread count shrinks and grows again.
    @Test func everyIndexOnceNestedAndConcurrent() {
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        let outer = 37, inner = 20_000, callers = 4
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: outer * inner)
        defer { hits.deallocate() }
        for threads in [2, 3, 1, 4, 2] {
            Runtime.threads = threads
            hits.initialize(repeating: 0, count: outer * inner)
            parallelFor(outer, grain: 1) { rows in
                for r in rows {
                    parallelFor(inner, grain: 64) { cols in for c in cols { hits[r * inner + c] += 1 } }
                }
            }
            #expect((0..<(outer * inner)).allSatisfy { hits[$0] == 1 }, "nested loops at \(threads) threads")

            hits.initialize(repeating: 0, count: outer * inner)
            DispatchQueue.concurrentPerform(iterations: callers) { caller in
                for _ in 0..<20 {
                    parallelFor(inner, grain: 64) { cols in for c in cols { hits[caller * inner + c] += 1 } }
                }
            }
            #expect((0..<(callers * inner)).allSatisfy { hits[$0] == 20 }, "concurrent callers at \(threads) threads")
        }
    }
}
