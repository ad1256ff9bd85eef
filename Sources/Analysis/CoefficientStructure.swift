import Foundation
import Formats
import Pipeline
import Tensor

// How much structure a basis has learned, measured on the coefficients it gives triplets
// [triplets, layers, n], each number beside the control it has to beat: (a) how well a
// triplet's coefficients predict its task or family (leave-one-out k-NN, against chance and
// against the same k-NN on shuffled labels), (b) how many basis elements are in use per layer
// (exp of the entropy of the coefficients), (c) whether a composed task's coefficients lie
// nearer its parts' than unrelated tasks', (d) whether an interpolation strip moves smoothly
// from one end frame to the other. Definitions: docs/analysis.md.

public enum CoefficientStructure {
    // MARK: (a) k-NN accuracy with controls

    public struct KNN: Codable, Equatable {
        public var label: String
        public var k: Int
        public var triplets: Int
        public var classes: Int
        /// Leave-one-out accuracy: each triplet's label predicted from its k nearest others.
        public var accuracy: Double
        /// Share of the commonest label: always guessing it scores this.
        public var majority: Double
        /// 1 / classes.
        public var uniform: Double
        /// The same k-NN with the labels permuted, mean and standard deviation over `permutations`.
        public var shuffledMean: Double
        public var shuffledStd: Double
        public var permutations: Int

        enum CodingKeys: String, CodingKey {
            case label, k, triplets, classes, accuracy, majority, uniform, permutations
            case shuffledMean = "shuffled_mean", shuffledStd = "shuffled_std"
        }
    }

    /// For every row of `x` [T, d], the other rows by descending cosine similarity (ties to the
    /// lower index), the first `count` of them. A zero row has cosine 0 with everything.
    public static func neighbours(_ x: Tensor, count: Int) -> [[Int]] {
        let (t, d) = (x.shape[0], x.shape[1]), v = x.toArray()
        var unit = [Float](repeating: 0, count: t * d)
        for i in 0..<t {
            let norm = (0..<d).reduce(Float(0)) { $0 + v[i * d + $1] * v[i * d + $1] }.squareRoot()
            if norm > 0 { for j in 0..<d { unit[i * d + j] = v[i * d + j] / norm } }
        }
        let u = Tensor(shape: [t, d], data: unit)
        let cosine = withNoGrad { u.matmul(u, transposeB: true) }.toArray()
        return (0..<t).map { i in
            Array((0..<t).filter { $0 != i }.sorted { (cosine[i * t + $0], -$0) > (cosine[i * t + $1], -$1) }.prefix(count))
        }
    }

    /// Share of rows whose label wins the vote of its first k `neighbours`: most votes, ties to the
    /// label met first (the nearest).
    static func accuracy(_ neighbours: [[Int]], labels: [Int], k: Int) -> Double {
        var right = 0
        for (i, near) in neighbours.enumerated() {
            var votes: [Int: Int] = [:], first: [Int: Int] = [:]
            for (rank, j) in near.prefix(k).enumerated() {
                votes[labels[j], default: 0] += 1
                if first[labels[j]] == nil { first[labels[j]] = rank }
            }
            let winner = votes.keys.max { (votes[$0]!, -first[$0]!) < (votes[$1]!, -first[$1]!) }
            if winner == labels[i] { right += 1 }
        }
        return Double(right) / Double(max(neighbours.count, 1))
    }

    /// Leave-one-out k-NN of `labels` for every k in `ks`, on the cosine of the flattened
    /// `coefficients` [T, L, n], with chance and the shuffled-label control (`permutations`
    /// permutations drawn from `seed`).
    public static func knn(_ coefficients: Tensor, labels: [String], name: String, ks: [Int] = [1, 5], permutations: Int = 20,
                           seed: UInt64 = 0) -> [KNN] {
        let t = coefficients.shape[0]
        precondition(labels.count == t && t >= 2, "knn: \(labels.count) labels for \(t) triplets")
        let near = neighbours(coefficients.reshaped([t, -1]), count: ks.max() ?? 1)
        let names = Array(Set(labels)).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        let ids = labels.map { index[$0]! }
        let commonest = Dictionary(grouping: ids, by: { $0 }).values.map(\.count).max()!
        return ks.map { k in
            var rng = RNG(seed: seed)
            let shuffled = (0..<permutations).map { _ -> Double in
                let p = rng.permutation(t)
                return accuracy(near, labels: p.map { ids[$0] }, k: k)
            }
            let mean = shuffled.reduce(0, +) / Double(max(permutations, 1))
            let variance = shuffled.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(permutations, 1))
            return KNN(label: name, k: k, triplets: t, classes: names.count, accuracy: accuracy(near, labels: ids, k: k),
                       majority: Double(commonest) / Double(t), uniform: 1 / Double(names.count), shuffledMean: mean,
                       shuffledStd: variance.squareRoot(), permutations: permutations)
        }
    }

    // MARK: (b) Elements in use

    public struct Usage: Codable, Equatable {
        /// Per layer, exp of the entropy of the triplets' mean coefficients: elements in use overall.
        public var meanCoefficients: [Double]
        /// Per layer, exp of the mean over triplets of each triplet's entropy: elements one triplet uses.
        public var perTriplet: [Double]
        public var n: Int

        enum CodingKeys: String, CodingKey { case meanCoefficients = "mean_coefficients", perTriplet = "per_triplet", n }
    }

    /// The entropies of every triplet's coefficients per layer, [T][L], of `coefficients` [T, L, n].
    static func entropies(_ coefficients: Tensor) -> [[Double]] {
        let (t, l, n) = (coefficients.shape[0], coefficients.shape[1], coefficients.shape[2]), c = coefficients.toArray()
        return (0..<t).map { i in (0..<l).map { j in entropy(ofShares: c[((i * l + j) * n)..<((i * l + j + 1) * n)]) } }
    }

    /// Elements in use per layer of `coefficients` [T, L, n].
    public static func usage(_ coefficients: Tensor) -> Usage {
        let (t, l, n) = (coefficients.shape[0], coefficients.shape[1], coefficients.shape[2])
        let mean = coefficients.mean(axis: 0).toArray()
        let h = entropies(coefficients)
        return Usage(meanCoefficients: (0..<l).map { exp(entropy(ofShares: mean[($0 * n)..<(($0 + 1) * n)])) },
                     perTriplet: (0..<l).map { j in exp(h.map { $0[j] }.reduce(0, +) / Double(t)) }, n: n)
    }

    /// For every triplet (or frame) of `coefficients` [T, L, n], exp of its entropy averaged over layers.
    public static func effectiveElements(_ coefficients: Tensor) -> [Double] {
        entropies(coefficients).map { exp($0.reduce(0, +) / Double(max($0.count, 1))) }
    }

    // MARK: (c) Compositions

    public struct Composition: Codable, Equatable {
        public var task: String
        /// The split of the composition's triplets (a training composition or an unseen one).
        public var split: String
        public var parts: [String]
        /// Mean cosine distance of the composition's mean coefficients to each part's.
        public var toParts: Double
        /// Mean cosine distance to every reference task sharing no family with it.
        public var toUnrelated: Double
        public var unrelated: Int

        enum CodingKeys: String, CodingKey { case task, split, parts, unrelated, toParts = "to_parts", toUnrelated = "to_unrelated" }
    }

    /// One triplet's labels as the composition measure needs them.
    public struct TaskLabels {
        public var task: String, split: String
        /// The task's families (one, or a composition's two).
        public var families: [String]
        /// The tasks of its steps on their own (a composition's parts).
        public var steps: [String]

        public init(task: String, split: String, families: [String], steps: [String]) {
            (self.task, self.split, self.families, self.steps) = (task, split, families, steps)
        }
    }

    /// Every composed task (two or more steps) whose parts are all single-step `reference`
    /// tasks among the triplets: its distances to its parts and to the unrelated references,
    /// on task means of the flattened `coefficients` [T, L, n].
    public static func compositions(_ coefficients: Tensor, labels: [TaskLabels], reference: (TaskLabels) -> Bool) -> [Composition] {
        let t = coefficients.shape[0], d = coefficients.shape[1] * coefficients.shape[2], c = coefficients.toArray()
        precondition(labels.count == t, "compositions: \(labels.count) labels for \(t) triplets")
        var rows: [String: [Int]] = [:], order: [String] = []
        for (i, l) in labels.enumerated() {
            if rows[l.task] == nil { order.append(l.task) }
            rows[l.task, default: []].append(i)
        }
        func centroid(_ task: String) -> [Double] {
            let members = rows[task]!
            var m = [Double](repeating: 0, count: d)
            for i in members { for j in 0..<d { m[j] += Double(c[i * d + j]) } }
            return m.map { $0 / Double(members.count) }
        }
        let centroids = Dictionary(uniqueKeysWithValues: order.map { ($0, centroid($0)) })
        func distance(_ a: String, _ b: String) -> Double {
            let (x, y) = (centroids[a]!, centroids[b]!)
            let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
            let norms = (x.reduce(0) { $0 + $1 * $1 } * y.reduce(0) { $0 + $1 * $1 }).squareRoot()
            return norms > 0 ? 1 - dot / norms : 1
        }
        let first = Dictionary(uniqueKeysWithValues: order.map { ($0, labels[rows[$0]![0]]) })
        let references = order.filter { first[$0]!.steps.count == 1 && reference(first[$0]!) }
        return order.compactMap { task in
            let l = first[task]!
            guard l.steps.count >= 2, l.steps.allSatisfy(references.contains) else { return nil }
            let unrelated = references.filter { Set(first[$0]!.families).isDisjoint(with: l.families) }
            guard !unrelated.isEmpty else { return nil }
            return Composition(task: task, split: l.split, parts: l.steps,
                               toParts: l.steps.map { distance(task, $0) }.reduce(0, +) / Double(l.steps.count),
                               toUnrelated: unrelated.map { distance(task, $0) }.reduce(0, +) / Double(unrelated.count),
                               unrelated: unrelated.count)
        }
    }

    // MARK: (d) Interpolation smoothness

    public struct Smoothness: Codable, Equatable {
        public var space: String
        public var t: [Double]
        /// PSNR (dB) of each frame against the first frame and against the last (100 for the same picture).
        public var toFirst: [Double]
        public var toLast: [Double]

        enum CodingKeys: String, CodingKey { case space, t, toFirst = "to_first", toLast = "to_last" }

        /// Whether the frames move away from the first and towards the last at every step.
        public var monotone: Bool {
            zip(toFirst, toFirst.dropFirst()).allSatisfy { $0 >= $1 } && zip(toLast, toLast.dropFirst()).allSatisfy { $0 <= $1 }
        }
    }

    public static func smoothness(_ frames: [Image], times: [Float], space: String) -> Smoothness {
        precondition(frames.count >= 2 && frames.count == times.count, "smoothness: \(frames.count) frames for \(times.count) times")
        return Smoothness(space: space, t: times.map(Double.init), toFirst: frames.map { psnr($0, frames[0]) },
                          toLast: frames.map { psnr($0, frames[frames.count - 1]) })
    }
}
