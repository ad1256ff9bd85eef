import Foundation
import Synchronization

/// SIGINT and SIGTERM while a training loop runs: the first one only raises a flag, which the
/// loop reads between steps (it finishes the step, saves a checkpoint and stops). The handler
/// also restores the default action, so a second signal ends the process at once, as users
/// who press Ctrl-C twice expect.
enum StopSignals {
    private static let received = Atomic<Int32>(0)
    private static let watched = [SIGINT, SIGTERM]

    /// Installs the handlers until `body` returns, then puts the previous ones back.
    static func handling<T>(_ body: () throws -> T) rethrows -> T {
        // Touch the flag here: a static's lazy initialisation is not async-signal-safe.
        received.store(0, ordering: .relaxed)
        let previous = watched.map { signal($0, { s in
            StopSignals.received.store(s, ordering: .relaxed)
            signal(s, SIG_DFL)
        }) }
        // A parent may start lorweb with these signals blocked (Foundation's Process does, from a
        // test runner), which would hold them back until the run ends.
        var unblock = sigset_t(), saved = sigset_t()
        sigemptyset(&unblock)
        for s in watched { sigaddset(&unblock, s) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &saved)
        defer {
            pthread_sigmask(SIG_SETMASK, &saved, nil)
            for (s, handler) in zip(watched, previous) { signal(s, handler) }
        }
        return try body()
    }

    /// The signal received since `handling` began, if any.
    static var pending: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }
}
