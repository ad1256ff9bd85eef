import Foundation

/// How a training loop reports progress on stderr.
public enum ProgressStyle: Sendable {
    /// A bar redrawn in place (`\r`) when stderr is a terminal, otherwise `lines`.
    case automatic
    /// One plain line every `every` steps and at the end (logs, CI).
    case lines(every: Int)
    /// Nothing (tests, embedding).
    case off
}

/// The progress line: completed steps, the loss smoothed by an exponential moving average (raw
/// losses jump with the sampled timestep), throughput since this process started and the ETA.
struct ProgressReporter {
    let total: Int
    /// Completed steps when this process started (non-zero after a resume), for the rate.
    let first: Int
    /// Redraw in place (a terminal) or print lines every `every` steps.
    let interactive: Bool
    let every: Int
    let enabled: Bool
    private var ema: Double?
    private let started = DispatchTime.now().uptimeNanoseconds
    private var lastDraw: UInt64 = 0

    init(style: ProgressStyle, total: Int, first: Int) {
        self.total = total
        self.first = first
        switch style {
        case .automatic:
            (interactive, every, enabled) = (isatty(STDERR_FILENO) != 0, 10, true)
        case .lines(let n):
            (interactive, every, enabled) = (false, max(1, n), true)
        case .off:
            (interactive, every, enabled) = (false, 1, false)
        }
    }

    /// Records the loss of completed step `step` (1-based) and redraws when due.
    mutating func update(step: Int, loss: Float) {
        ema = ema.map { 0.9 * $0 + 0.1 * Double(loss) } ?? Double(loss)
        guard enabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let last = step == total
        if interactive {
            // At most ten redraws a second: a fast loop must not spend its time on the terminal.
            guard last || now - lastDraw >= 100_000_000 else { return }
            lastDraw = now
            write("\r\(line(step: step, now: now))\u{1B}[K")
        } else if last || step % every == 0 {
            write(line(step: step, now: now) + "\n")
        }
    }

    /// Ends the in-place line so later output starts on a fresh one.
    func finish() {
        if enabled && interactive { write("\n") }
    }

    private func line(step: Int, now: UInt64) -> String {
        let seconds = Double(now - started) / 1e9
        let rate = seconds > 0 ? Double(step - first) / seconds : 0
        let eta = rate > 0 ? Self.clock(Double(total - step) / rate) : "?"
        let width = String(total).count
        let counter = String(repeating: " ", count: max(0, width - String(step).count)) + "\(step)/\(total)"
        return "step \(counter)  loss \(String(format: "%.4g", ema ?? .nan))  \(String(format: "%.2f", rate)) steps/s  ETA \(eta)"
    }

    /// h:mm:ss.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
