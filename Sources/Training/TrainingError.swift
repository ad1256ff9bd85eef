import Foundation

/// Why a training run stopped or could not start; the description is the CLI's one-line message.
public enum TrainingError: Error, CustomStringConvertible {
    /// The loss or the gradient norm became NaN or infinite at `step` (1-based); nothing was
    /// written for that step and `lastCheckpoint` (if any) is the state to resume from.
    case nonFinite(step: Int, quantity: String, value: Double, lastCheckpoint: String?)
    /// A checkpoint does not fit the model, optimizer or data it is restored into.
    case mismatch(String)
    /// SIGINT or SIGTERM arrived; the loop finished `step` (1-based), saved `checkpoint` and stopped.
    /// The CLI exits with 128 + `signal` (130 for SIGINT, 143 for SIGTERM), as a shell would.
    case interrupted(signal: Int32, step: Int, checkpoint: String)
    /// SIGINT or SIGTERM arrived before the first step of a fresh run; nothing was written.
    case stoppedBeforeFirstStep(signal: Int32)
    /// A fresh run was asked for in a folder that already holds checkpoints.
    case existingRun(folder: String)

    public var description: String {
        switch self {
        case .nonFinite(let step, let quantity, let value, let last):
            let keep = last.map { "the last good checkpoint is \($0)" } ?? "no checkpoint was written before it"
            return "training stopped at step \(step): the \(quantity) is \(value); \(keep)"
        case .mismatch(let problem):
            return "cannot resume: \(problem)"
        case .interrupted(let signal, let step, let checkpoint):
            return "stopped by \(Self.name(signal)) after step \(step); saved \(checkpoint) (continue with --resume)"
        case .stoppedBeforeFirstStep(let signal):
            return "stopped by \(Self.name(signal)) before the first training step; nothing was trained"
        case .existingRun(let folder):
            return "\(folder) already holds training checkpoints: resume the run or choose another folder"
        }
    }

    /// The signal that stopped the run, if one did (the CLI exits with 128 + its number).
    public var signal: Int32? {
        switch self {
        case .interrupted(let signal, _, _), .stoppedBeforeFirstStep(let signal): return signal
        default: return nil
        }
    }

    private static func name(_ signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
    }
}
