import Foundation

/// How the learning rate moves over a run, as a factor of the base rate.
///
/// Steps are counted from 0 (the first optimizer update is step 0). Warm-up ramps linearly to the
/// full rate, reaching it at the last warm-up step: factor (s + 1) / warmup for s < warmup, so no
/// update is wasted at rate 0. Cosine decay then runs over the remaining steps from 1 down towards
/// `minFactor`, which the last step approaches but, like PyTorch's schedulers, never uses.
public enum LRSchedule: Codable, Equatable, Sendable {
    /// The base rate throughout (the paper's recipe).
    case constant
    /// Linear warm-up over `warmup` steps, then the base rate.
    case warmupConstant(warmup: Int)
    /// Linear warm-up over `warmup` steps, then a half cosine from the base rate to
    /// `minFactor` times it at step `total`.
    case warmupCosine(warmup: Int, total: Int, minFactor: Double = 0)

    /// lorweb's trainers' decay over a run of `steps`: warm-up over its first 5%, then the cosine.
    public static func cosine(steps: Int, minFactor: Double = 0) -> LRSchedule {
        .warmupCosine(warmup: max(1, steps / 20), total: steps, minFactor: minFactor)
    }

    /// The factor of the base rate at step `s` (0-based).
    public func factor(at s: Int) -> Double {
        switch self {
        case .constant:
            return 1
        case .warmupConstant(let warmup):
            return s < warmup ? Double(s + 1) / Double(warmup) : 1
        case .warmupCosine(let warmup, let total, let minFactor):
            if s < warmup { return Double(s + 1) / Double(warmup) }
            let progress = Double(s - warmup) / Double(max(1, total - warmup))
            return minFactor + (1 - minFactor) * 0.5 * (1 + cos(Double.pi * min(progress, 1)))
        }
    }

    /// The learning rate at step `s` for base rate `base`.
    public func learningRate(at s: Int, base: Double) -> Double { base * factor(at: s) }
}
