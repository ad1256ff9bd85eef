import Foundation
import Testing
@testable import Tensor

@Suite struct RandomTests {
    /// Known-answer vectors of Philox4x32-10 from Random123 (kat_vectors).
    @Test func philoxKnownAnswers() {
        let zero = philox((0, 0, 0, 0), key: (0, 0))
        #expect(zero == (0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8))
        let ones = philox((.max, .max, .max, .max), key: (.max, .max))
        #expect(ones == (0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd))
        let pi = philox((0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
        #expect(pi == (0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1))
    }

    @Test func momentsOfUniformAndNormal() {
        var rng = RNG(seed: 1)
        let u = rng.uniform([1_000_000], low: -2, high: 2).toArray().map(Double.init)
        let n = rng.normal([1_000_000], mean: 1, std: 3).toArray().map(Double.init)
        func stats(_ x: [Double]) -> (Double, Double) {
            let m = x.reduce(0, +) / Double(x.count)
            return (m, (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)).squareRoot())
        }
        let (um, us) = stats(u), (nm, ns) = stats(n)
        #expect(abs(um) < 0.01 && abs(us - 4 / 12.0.squareRoot()) < 0.01, "uniform mean \(um) std \(us)")
        #expect(abs(nm - 1) < 0.01 && abs(ns - 3) < 0.01, "normal mean \(nm) std \(ns)")
        #expect(u.allSatisfy { $0 >= -2 && $0 < 2 } && n.allSatisfy(\.isFinite))
    }

    @Test func sameSeedSameBitsOtherSeedsDiffer() {
        var a = RNG(seed: 7), b = RNG(seed: 7), c = RNG(seed: 8)
        let x = a.normal([1001]).toArray(), y = b.normal([1001]).toArray(), z = c.normal([1001]).toArray()
        #expect(x == y && x != z)
        #expect(a.normal([5]).toArray() != x.prefix(5).map { $0 }, "consecutive fills continue the sequence")
        var f1 = RNG(seed: 7).fork(1), f2 = RNG(seed: 7).fork(2)
        #expect(f1.uniform([8]).toArray() != f2.uniform([8]).toArray())
        #expect(RNG(seed: 7).fork(1) == RNG(seed: 7).fork(1))
    }

    @Test func threadCountDoesNotChangeBits() {
        let saved = Runtime.threads
        defer { Runtime.threads = saved }
        Runtime.threads = 1
        var r1 = RNG(seed: 3)
        let one = r1.normal([100_003]).toArray()
        Runtime.threads = 2
        var r2 = RNG(seed: 3)
        let two = r2.normal([100_003]).toArray()
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
    }

    @Test func stateRoundTripsThroughCodable() throws {
        var rng = RNG(seed: 9, stream: 4)
        _ = rng.uniform([13])
        let saved = try JSONEncoder().encode(rng)
        var restored = try JSONDecoder().decode(RNG.self, from: saved)
        #expect(restored.uniform([6]).toArray() == rng.uniform([6]).toArray())
    }

    @Test func kaimingBoundAndIntegers() {
        var rng = RNG(seed: 5)
        let w = rng.kaimingUniform([64, 100], fanIn: 100).toArray()
        #expect(w.allSatisfy { abs($0) <= 0.1 } && w.contains { abs($0) > 0.09 })
        let draws = (0..<2000).map { _ in rng.int(in: 3..<7) }
        #expect(Set(draws) == [3, 4, 5, 6])
        #expect(rng.permutation(10).sorted() == Array(0..<10))
    }
}
