import Foundation
import Testing
import Formats
@testable import Analysis
import Tensor

// The structure measurements on inputs whose answers are known.

/// Coefficients [T, layers, n]: row t is `rows[t]` in every layer.
private func coefficients(_ rows: [[Float]], layers: Int = 2) -> Tensor {
    Tensor(shape: [rows.count, layers, rows[0].count], data: rows.flatMap { r in (0..<layers).flatMap { _ in r } })
}

@Test func clusteredCoefficientsPredictTheirLabelsAndShuffledLabelsDoNot() {
    // Four labels, ten triplets each; every label's triplets sit near their own basis element.
    var rng = RNG(seed: 3)
    let labels = (0..<40).map { "task\($0 % 4)" }
    let rows = labels.indices.map { t in (0..<8).map { j in (j == t % 4 ? 1 : 0) + 0.05 * rng.nextFloat() } }
    let results = CoefficientStructure.knn(coefficients(rows), labels: labels, name: "task", ks: [1, 5], permutations: 20, seed: 1)
    #expect(results.map(\.k) == [1, 5])
    for r in results {
        #expect(r.accuracy == 1 && r.classes == 4 && r.triplets == 40 && r.permutations == 20)
        #expect(r.majority == 0.25 && r.uniform == 0.25)
        // Shuffled labels score about chance: 0.25 with some spread.
        #expect(abs(r.shuffledMean - 0.25) < 0.1 && r.shuffledStd > 0 && r.shuffledStd < 0.15, "\(r)")
    }
    // Same seed, same control.
    #expect(CoefficientStructure.knn(coefficients(rows), labels: labels, name: "task", permutations: 20, seed: 1) == results)
}

@Test func knnLeavesEachTripletOutAndBreaksTiesTowardsTheNearest() {
    // On a circle of directions: 0 and 1 point the same way, 2 is a little off, 3 is far.
    let rows: [[Float]] = [[1, 0], [1, 0], [1, 0.2], [0, 1]]
    #expect(CoefficientStructure.neighbours(coefficients(rows).reshaped([4, -1]), count: 3) == [[1, 2, 3], [0, 2, 3], [0, 1, 3], [2, 0, 1]])
    // k = 1: 0 <- 1 (a), 1 <- 0 (a), 2 <- 0 (a, wrong), 3 <- 2 (b, right): 3 of 4.
    let labels = ["a", "a", "b", "b"]
    #expect(CoefficientStructure.knn(coefficients(rows), labels: labels, name: "x", ks: [1], permutations: 0)[0].accuracy == 0.75)
    // k = 2 for triplet 2: one vote each for a (0) and a (1) -> a; for 3: b (2) and a (0) tie, the nearest (b) wins.
    #expect(CoefficientStructure.knn(coefficients(rows), labels: labels, name: "x", ks: [2], permutations: 0)[0].accuracy == 0.75)
}

@Test func elementsInUseCountTheSpreadOfTheCoefficients() {
    // Triplet t puts all its weight on element t: each uses 1 element, together they use 4.
    let onehot = (0..<4).map { t in (0..<8).map { Float($0 == t ? 1 : 0) } }
    let usage = CoefficientStructure.usage(coefficients(onehot, layers: 3))
    #expect(usage.n == 8 && usage.meanCoefficients.count == 3)
    #expect(usage.meanCoefficients.allSatisfy { abs($0 - 4) < 1e-9 } && usage.perTriplet.allSatisfy { abs($0 - 1) < 1e-9 })
    // Uniform coefficients use all n, each triplet too.
    let uniform = CoefficientStructure.usage(coefficients(Array(repeating: Array(repeating: 0.125, count: 8), count: 3)))
    #expect(uniform.meanCoefficients.allSatisfy { abs($0 - 8) < 1e-6 } && uniform.perTriplet.allSatisfy { abs($0 - 8) < 1e-6 })
    #expect(CoefficientStructure.effectiveElements(coefficients(onehot)).allSatisfy { abs($0 - 1) < 1e-9 })
}

@Test func aCompositionBetweenItsPartsIsNearerThemThanUnrelatedTasks() {
    typealias L = CoefficientStructure.TaskLabels
    func single(_ task: String, _ family: String, _ split: String = "train") -> L { L(task: task, split: split, families: [family], steps: [task]) }
    let labels = [single("tint(red)", "tint"), single("tint(red)", "tint"), single("blur(2)", "blur"), single("tint(blue)", "tint"),
                  single("flip_h", "flip_h"), single("add_hat", "add_hat"),
                  L(task: "tint(red)+blur(2)", split: "unseen", families: ["tint", "blur"], steps: ["tint(red)", "blur(2)"]),
                  L(task: "tint(red)+rotate(90)", split: "unseen", families: ["tint", "rotate"], steps: ["tint(red)", "rotate(90)"])]
    let e = { (i: Int) in (0..<6).map { Float($0 == i ? 1 : 0) } }
    let rows = [e(0), e(0), e(1), e(2), e(3), e(4), zip(e(0), e(1)).map { ($0 + $1) / 2 }, e(5)]
    let found = CoefficientStructure.compositions(coefficients(rows), labels: labels) { $0.split == "train" }
    // The second composition's part rotate(90) is not among the triplets: it is left out.
    #expect(found.map(\.task) == ["tint(red)+blur(2)"])
    let c = found[0]
    // Unrelated: flip_h and add_hat (tint(blue) shares the family tint): cosine distance 1 to both.
    #expect(c.unrelated == 2 && abs(c.toUnrelated - 1) < 1e-9)
    // Halfway between two orthogonal directions: cosine 1/sqrt(2) to each part.
    #expect(abs(c.toParts - (1 - 1 / 2.0.squareRoot())) < 1e-6 && c.parts == ["tint(red)", "blur(2)"] && c.split == "unseen")
    // Only references count as parts.
    #expect(CoefficientStructure.compositions(coefficients(rows), labels: labels) { $0.task != "blur(2)" }.isEmpty)
}

@Test func smoothnessComparesEveryFrameWithBothEnds() {
    let frames = [0, 64, 128, 255].map { Image(width: 4, height: 4, color: [UInt8($0), UInt8($0), UInt8($0)]) }
    let s = CoefficientStructure.smoothness(frames, times: [0, 1.0 / 3, 2.0 / 3, 1], space: "coeffs")
    #expect(s.toFirst[0] == 100 && s.toLast[3] == 100 && s.monotone)
    #expect(abs(s.toFirst[3] - 0) < 1e-9 && abs(s.toFirst[1] - 10 * log10(255.0 * 255 / (64 * 64))) < 1e-9)
    let back = CoefficientStructure.smoothness([frames[0], frames[3], frames[1], frames[3]], times: [0, 0.3, 0.6, 1], space: "query")
    #expect(!back.monotone)
}
