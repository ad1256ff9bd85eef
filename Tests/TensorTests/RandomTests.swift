import Foundation
import Testing
@testable import Tensor
import TestSupport

@Suite struct RandomTests {
    /// Random123's kat_vectors for philox4x32 with 10 rounds: counter (4 words), key (2 words), output.
    @Test func philoxKnownAnswers() {
        let cases: [(Philox4x32.Block, (UInt32, UInt32), [UInt32])] = [
            ((0, 0, 0, 0), (0, 0), [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8]),
            ((.max, .max, .max, .max), (.max, .max), [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD]),
            ((0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), (0xA409_3822, 0x299F_31D0),
             [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1]),
        ]
        for (counter, key, expected) in cases {
            let b = Philox4x32.block(counter: counter, key: key)
            #expect([b.0, b.1, b.2, b.3] == expected)
        }
    }

    /// The generator's words are the Philox blocks laid out as documented: key = seed halves,
    /// counter = (block index, stream).
    @Test func wordsFollowDocumentedLayout() {
        let seed: UInt64 = 0x299F_31D0_A409_3822, stream: UInt64 = 0x0370_7344_1319_8A2E
        var rng = RNG(seed: seed, stream: stream, counter: 4 * 0x05A3_08D3_243F_6A88 + 2)
        let b = Philox4x32.block(counter: (0x243F_6A88, 0x05A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0))
        let c = Philox4x32.block(counter: (0x243F_6A89, 0x05A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0))
        #expect((0..<4).map { _ in rng.nextUInt32() } == [b.2, b.3, c.0, c.1])
    }

    @Test func fillsAgreeWithScalarDraws() {
        // A fill from a block boundary uses word i for element i, like consecutive nextFloat calls;
        // 10 elements also exercise the partial tail block.
        var a = RNG(seed: 7), b = RNG(seed: 7)
        let t = a.uniform([10])
        #expect(t.toArray() == (0..<10).map { _ in b.nextFloat() })
        // The fill consumed whole blocks: the next draw starts at word 12.
        #expect(a.counter == 12)
    }

    @Test func sameSeedSameBits() {
        var a = RNG(seed: 1234), b = RNG(seed: 1234)
        #expect(a.uniform([1000], low: -3, high: 2).toArray() == b.uniform([1000], low: -3, high: 2).toArray())
        #expect(a.normal([999], mean: 1, std: 2).toArray() == b.normal([999], mean: 1, std: 2).toArray())
        #expect(a.permutation(50) == b.permutation(50))
        #expect(a.nextUInt64() == b.nextUInt64())
    }

    @Test func seedsStreamsAndCallsDiffer() {
        var a = RNG(seed: 1), b = RNG(seed: 2)
        let first = a.uniform([64]).toArray()
        #expect(first != b.uniform([64]).toArray())
        // Consecutive calls continue the sequence instead of repeating it.
        #expect(first != a.uniform([64]).toArray())

        let parent = RNG(seed: 1)
        let children = parent.split(8)
        #expect(Set(children.map(\.stream)).count == 8)
        #expect(!children.contains { $0.stream == parent.stream })
        var c0 = children[0], c1 = children[1]
        #expect(c0.uniform([64]).toArray() != c1.uniform([64]).toArray())
        // A fork depends on (seed, stream, id), not on how far the parent has advanced.
        var advanced = parent
        _ = advanced.normal([17])
        #expect(advanced.fork(3) == parent.fork(3))
        #expect(parent.fork(3).fork(0) != parent.fork(0).fork(3))
    }

    @Test func uniformMoments() {
        var rng = RNG(seed: 99)
        let (low, high): (Float, Float) = (-2, 3)
        let t = rng.uniform([1_000_000], low: low, high: high)
        let m = moments(t)
        // Standard error of the mean is 1.44e-3 and of the variance about 2.2e-3.
        #expect(abs(m.mean - 0.5) < 0.01, "mean \(m.mean)")
        #expect(abs(m.variance - 25.0 / 12) < 0.015, "variance \(m.variance)")
        #expect(m.min >= Double(low) && m.max < Double(high), "range [\(m.min), \(m.max)]")
    }

    @Test func normalMoments() {
        var rng = RNG(seed: 2024)
        let t = rng.normal([1_000_000], mean: 1.5, std: 2)
        let m = moments(t)
        // Standard errors: mean 2e-3, std 1.4e-3, skewness 2.4e-3, kurtosis 4.9e-3.
        #expect(abs(m.mean - 1.5) < 0.01, "mean \(m.mean)")
        #expect(abs(m.variance.squareRoot() - 2) < 0.01, "std \(m.variance.squareRoot())")
        #expect(abs(m.skewness) < 0.02, "skewness \(m.skewness)")
        #expect(abs(m.kurtosis - 3) < 0.04, "kurtosis \(m.kurtosis)")
        #expect(t.toArray().allSatisfy { $0.isFinite })
        // Box–Muller outputs are independent, not merely uncorrelated: neighbours (same pair at
        // lag 1, same Philox block at lag 2) have uncorrelated squares. Standard error 1e-3.
        for lag in 1...2 {
            let r = squareCorrelation(t, lag: lag)
            #expect(abs(r) < 0.01, "lag \(lag): correlation of squares \(r)")
        }
    }

    @Test func sameBitsForAnyThreadCount() {
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        func draw(threads: Int) -> [UInt32] {
            Runtime.threads = threads
            var rng = RNG(seed: 5, stream: 11)
            _ = rng.nextUInt32()  // start the fills off a block boundary
            // 100_003 elements: several parallel chunks and a partial tail block.
            let u = rng.uniform([100_003], low: -1, high: 1), n = rng.normal([100_003])
            return (u.toArray() + n.toArray()).map(\.bitPattern)
        }
        let one = draw(threads: 1), two = draw(threads: 2)
        #expect(one == two)
    }

    @Test func kaimingUniformBound() {
        var rng = RNG(seed: 3)
        // Default a = sqrt(5) is nn.Linear's init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
        let w = rng.kaimingUniform([64, 256], fanIn: 256).toArray()
        let bound: Float = 1.0 / 16
        #expect(w.allSatisfy { abs($0) <= bound })
        #expect(w.max()! > 0.99 * bound && w.min()! < -0.99 * bound)
        // a = 0 is the plain ReLU gain sqrt(2): bound sqrt(6 / fanIn).
        let r = rng.kaimingUniform([10_000], fanIn: 24, a: 0).toArray()
        #expect(r.allSatisfy { abs($0) <= 0.5 } && r.max()! > 0.49)
    }

    @Test func stateRoundTripResumesSequence() throws {
        var rng = RNG(seed: 77).fork(4)
        _ = rng.normal([13])
        _ = rng.nextUInt32()
        // A checkpoint stores three integers (or the Codable value).
        let (seed, stream, counter) = (rng.seed, rng.stream, rng.counter)
        var fromInts = RNG(seed: seed, stream: stream, counter: counter)
        var fromJSON = try JSONDecoder().decode(RNG.self, from: JSONEncoder().encode(rng))
        let expected = rng.normal([37]).toArray() + [Float(rng.int(in: 0..<1000)), rng.nextFloat()]
        #expect(fromInts.normal([37]).toArray() + [Float(fromInts.int(in: 0..<1000)), fromInts.nextFloat()] == expected)
        #expect(fromJSON.normal([37]).toArray() + [Float(fromJSON.int(in: 0..<1000)), fromJSON.nextFloat()] == expected)
    }

    @Test func integersAndPermutations() {
        var rng = RNG(seed: 8)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 { counts[rng.int(in: 0..<6)] += 1 }
        // Each count is Binomial(60000, 1/6): standard deviation 91.
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
        #expect(rng.int(in: 5...5) == 5)
        #expect((0..<100).allSatisfy { _ in (-3..<2).contains(rng.int(in: -3..<2)) })
        _ = rng.int(in: Int.min...Int.max)  // full 64-bit width must not trap

        let p = rng.permutation(1000)
        #expect(p.sorted() == Array(0..<1000))
        #expect(p != Array(0..<1000))
        // Shuffling any collection makes the same swaps as permuting its indices.
        let original = Array("abcdefgh")
        var letters = original, again = rng
        rng.shuffle(&letters)
        #expect(letters == again.permutation(8).map { original[$0] })
        #expect(letters != original)
    }
}

/// Mean, variance and standardised third and fourth moments, accumulated in Float64.
private func moments(_ t: Tensor) -> (mean: Double, variance: Double, skewness: Double, kurtosis: Double, min: Double, max: Double) {
    let n = Double(t.count)
    var sum = 0.0, lo = Double.infinity, hi = -Double.infinity
    for i in 0..<t.count {
        let x = Double(t.data[i])
        sum += x; lo = min(lo, x); hi = max(hi, x)
    }
    let mean = sum / n
    var m2 = 0.0, m3 = 0.0, m4 = 0.0
    for i in 0..<t.count {
        let d = Double(t.data[i]) - mean, d2 = d * d
        m2 += d2; m3 += d2 * d; m4 += d2 * d2
    }
    m2 /= n; m3 /= n; m4 /= n
    return (mean, m2, m3 / (m2 * m2.squareRoot()), m4 / (m2 * m2), lo, hi)
}

/// Pearson correlation of x[i]² with x[i + lag]², in Float64.
private func squareCorrelation(_ t: Tensor, lag: Int) -> Double {
    let n = t.count - lag
    var sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0
    for i in 0..<n {
        let a = Double(t.data[i]) * Double(t.data[i]), b = Double(t.data[i + lag]) * Double(t.data[i + lag])
        sa += a; sb += b; saa += a * a; sbb += b * b; sab += a * b
    }
    let N = Double(n)
    let cov = sab / N - sa / N * sb / N
    return cov / ((saa / N - sa * sa / (N * N)) * (sbb / N - sb * sb / (N * N))).squareRoot()
}
