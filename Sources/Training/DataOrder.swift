import Tensor

/// Which samples each step trains on: epochs are independent random permutations of the data
/// set, read in consecutive batches that may straddle an epoch boundary.
///
/// The order is a pure function of (seed, count, batch size, step), so a resumed run sees
/// exactly the batches an uninterrupted one would, with nothing to carry but these numbers.
/// Checkpoints store it, and resuming with a data set of another size is refused.
///
/// ```swift
/// let order = DataOrder(count: samples.count, batchSize: 4, seed: 7)
/// let batch = order.batch(at: step).map { samples[$0] }
/// ```
public struct DataOrder: Codable, Equatable, Sendable {
    /// Samples in the data set.
    public let count: Int
    public let batchSize: Int
    /// Seed of the epoch permutations (epoch e uses `RNG(seed: seed).fork(e)`).
    public let seed: UInt64

    public init(count: Int, batchSize: Int, seed: UInt64) {
        precondition(count > 0 && batchSize > 0, "DataOrder: need samples (\(count)) and a positive batch size (\(batchSize))")
        self.count = count
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Where step `s` (0-based) starts reading: the epoch and the position inside its permutation.
    public func position(at s: Int) -> (epoch: Int, index: Int) {
        let first = s * batchSize
        return (first / count, first % count)
    }

    /// The sample indices of step `s` (0-based), in order. Costs one permutation of the data set
    /// per epoch touched (one or two): negligible next to a training step.
    public func batch(at s: Int) -> [Int] {
        let first = s * batchSize
        var epoch = -1
        var permutation: [Int] = []
        return (first..<(first + batchSize)).map { p in
            if p / count != epoch {
                epoch = p / count
                var rng = RNG(seed: seed).fork(UInt64(epoch))
                permutation = rng.permutation(count)
            }
            return permutation[p % count]
        }
    }
}
