import Foundation
import Synchronization

/// SIGINT and SIGTERM in a training command. During setup (`duringSetup`: loading data and
/// models, fitting a codec) there is nothing a checkpoint could keep and the work cannot be
/// interrupted between steps, so the handler ends the process at once with a message, after
/// removing what the command registered (its lock file and the output folder it made). While
/// a training loop runs (`handling`), the first signal only raises a flag, which the loop reads
/// between steps (it finishes the step, saves a checkpoint and stops); the handler then
/// restores the default action, so a second signal ends the process at once, as users who
/// press Ctrl-C twice expect.
public enum StopSignals {
    private static let received = Atomic<Int32>(0)
    private static let phase = Atomic<Int32>(Phase.none)
    private static let watched = [SIGINT, SIGTERM]

    private enum Phase {
        static let none: Int32 = 0, setup: Int32 = 1, loop: Int32 = 2, held: Int32 = 3
    }

    /// What the setup handler removes: files first, then folders (if empty), as C strings made
    /// before any signal can arrive, since a handler may not allocate.
    nonisolated(unsafe) private static var removals: [UnsafeMutablePointer<CChar>] = []
    nonisolated(unsafe) private static var removalFolders = 0

    /// Until a training loop starts, SIGINT and SIGTERM end the process at once with a message
    /// and exit status 128 + the signal's number, instead of waiting for a first step.
    public static func duringSetup() {
        received.store(0, ordering: .relaxed)
        phase.store(Phase.setup, ordering: .relaxed)
        _ = removals
        for s in watched { signal(s, handler) }
        unblock()
    }

    /// Registers what a signal during setup must remove: `files`, then `folders` if empty.
    public static func removeOnSetupSignal(files: [String], folders: [String] = []) {
        let paths = (files + folders).map { strdup($0)! }
        holding {
            removals = paths
            removalFolders = folders.count
        }
    }

    /// Runs `body` (part of setup; calls may nest) with a signal's effect held back: one that
    /// arrives meanwhile, on any thread, is acted on when the outermost call returns. Creating
    /// something and registering its removal must be one step to a signal, or a signal between
    /// the two leaves the thing behind; and a handler must never see `removals` half written.
    public static func holding<T>(_ body: () throws -> T) rethrows -> T {
        let previous = phase.exchange(Phase.held, ordering: .sequentiallyConsistent)
        defer {
            phase.store(previous, ordering: .sequentiallyConsistent)
            let s = received.load(ordering: .sequentiallyConsistent)
            if previous == Phase.setup, s != 0 { endSetup(s) }
        }
        return try body()
    }

    /// Ends the process for a signal during setup: message, removals, exit 128 + the signal's
    /// number. Async-signal-safe.
    private static func endSetup(_ s: Int32) -> Never {
        let message: StaticString = s == SIGINT
            ? "lorweb: stopped by SIGINT during setup, before the first training step; nothing was trained\n"
            : "lorweb: stopped by SIGTERM during setup, before the first training step; nothing was trained\n"
        _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
        let files = removals.count - removalFolders
        for (i, path) in removals.enumerated() { _ = i < files ? unlink(path) : rmdir(path) }
        _exit(128 + s)
    }

    /// The one handler for all phases; everything it calls is async-signal-safe.
    private static let handler: @convention(c) (Int32) -> Void = { s in
        switch StopSignals.phase.load(ordering: .sequentiallyConsistent) {
        case Phase.setup:
            StopSignals.endSetup(s)
        case Phase.held:
            StopSignals.received.store(s, ordering: .sequentiallyConsistent)
        case Phase.loop:
            StopSignals.received.store(s, ordering: .relaxed)
            signal(s, SIG_DFL)
        default:
            signal(s, SIG_DFL)
            raise(s)
        }
    }

    /// A parent may start lorweb with these signals blocked (Foundation's Process does, from a
    /// test runner), which would hold them back until the run ends.
    @discardableResult
    private static func unblock() -> sigset_t {
        var unblock = sigset_t(), saved = sigset_t()
        sigemptyset(&unblock)
        for s in watched { sigaddset(&unblock, s) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &saved)
        return saved
    }

    /// Installs the flag-raising handlers until `body` returns, then puts the previous ones back
    /// (setup is over by then: a signal after the loop has the default action).
    static func handling<T>(_ body: () throws -> T) rethrows -> T {
        // Touch the flag here: a static's lazy initialisation is not async-signal-safe.
        received.store(0, ordering: .relaxed)
        phase.store(Phase.loop, ordering: .relaxed)
        let previous = watched.map { signal($0, handler) }
        var saved = unblock()
        defer {
            phase.store(Phase.none, ordering: .relaxed)
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
