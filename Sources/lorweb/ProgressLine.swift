import Foundation

/// A progress line on stderr for long commands: "basis 120/494 layers, 31/s, ETA 0:00:12".
/// On a terminal it is redrawn in place at most ten times a second; otherwise (logs, CI) one
/// line is printed per tenth of the work. Updates may come from several threads.
final class ProgressLine {
    private let label: String, unit: String
    private let start = DispatchTime.now().uptimeNanoseconds
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastDraw: UInt64 = 0, lastTenth = 0
    private var drawn = false
    private let lock = NSLock()

    init(label: String, unit: String) {
        self.label = label
        self.unit = unit
    }

    /// Seconds since the line was created.
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    func update(_ done: Int, _ total: Int) {
        lock.lock()
        defer { lock.unlock() }
        let now = DispatchTime.now().uptimeNanoseconds
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Int((Double(total - done) / rate).rounded()) : 0
        let rateText = rate < 10 ? String(format: "%.2f", rate) : String(Int(rate))
        let line = "\(label) \(done)/\(total) \(unit), \(rateText)/s, ETA \(eta / 3600):\(String(format: "%02d:%02d", eta / 60 % 60, eta % 60))"
        if interactive {
            guard done == total || now - lastDraw > 100_000_000 else { return }
            lastDraw = now
            drawn = true
            FileHandle.standardError.write(Data("\r\(line)\u{1B}[K".utf8))
        } else {
            let tenth = done * 10 / max(total, 1)
            guard tenth > lastTenth else { return }
            lastTenth = tenth
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    /// Ends an in-place line, if one was drawn.
    func finish() {
        if interactive && drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
