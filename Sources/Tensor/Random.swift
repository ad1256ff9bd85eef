import Foundation

// Counter-based random numbers (Philox4x32-10, Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011). Value i of a fill is a pure function of (seed, stream, position + i), so
// fills run in parallel chunks and give the same bits for any thread count, and the whole state
// is three integers that a checkpoint stores for a bit-exact resume.

/// Philox4x32 with 10 rounds: one 128-bit counter block -> four 32-bit random words.
@inline(__always)
func philox(_ counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
    var (c0, c1, c2, c3) = counter
    var (k0, k1) = key
    for round in 0..<10 {
        if round > 0 { k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85 }
        let p0 = UInt64(0xD251_1F53) * UInt64(c0), p1 = UInt64(0xCD9E_8D57) * UInt64(c2)
        (c0, c1, c2, c3) = (UInt32(p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                            UInt32(p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
    }
    return (c0, c1, c2, c3)
}

/// A deterministic, splittable random number generator.
///
/// ```swift
/// var rng = RNG(seed: 42)
/// let w = rng.normal([128, 64], std: 0.02)     // same bits on every machine and thread count
/// var dropout = rng.fork(1)                   // an independent stream
/// ```
public struct RNG: Codable, Equatable, Sendable {
    /// The key.
    public let seed: UInt64
    /// Selects an independent sequence for the same seed (upper half of the counter).
    public let stream: UInt64
    /// Next unused counter block (lower half of the counter); each block yields four words.
    public private(set) var position: UInt64

    public init(seed: UInt64, stream: UInt64 = 0, position: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.position = position
    }

    /// An independent generator derived from this one's seed and stream and `id`.
    public func fork(_ id: UInt64) -> RNG {
        // SplitMix64 finaliser: distinct (stream, id) pairs map to well-separated streams.
        var z = stream &+ 0x9E37_79B9_7F4A_7C15 &* (id &+ 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return RNG(seed: seed, stream: z ^ (z >> 31))
    }

    @inline(__always)
    func block(_ index: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        philox((UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32),
                UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
               key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// Fills `count` values, four per counter block, via `body(block words, block index, out)`.
    mutating func fill(_ count: Int, _ body: (_ words: (UInt32, UInt32, UInt32, UInt32), _ out: UnsafeMutablePointer<Float>, _ n: Int) -> Void) -> Tensor {
        let out = Tensor(uninitialized: [count])
        let blocks = (count + 3) / 4, base = position, p = out.data, me = self
        parallelFor(blocks, grain: 2048) { r in
            var tmp = (Float(0), Float(0), Float(0), Float(0))
            for b in r {
                let n = Swift.min(4, count - 4 * b)
                if n == 4 { body(me.block(base &+ UInt64(b)), p + 4 * b, 4); continue }
                withUnsafeMutableBytes(of: &tmp) { raw in
                    let t = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                    body(me.block(base &+ UInt64(b)), t, 4)
                    (p + 4 * b).update(from: t, count: n)
                }
            }
        }
        position &+= UInt64(blocks)
        return out
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always) static func unit(_ w: UInt32) -> Float { Float(w >> 8) * 0x1p-24 }

    /// Uniform values in [low, high).
    public mutating func uniform(_ shape: [Int], low: Float = 0, high: Float = 1) -> Tensor {
        let span = high - low
        return fill(Shape.count(shape)) { w, o, _ in
            o[0] = low + span * RNG.unit(w.0); o[1] = low + span * RNG.unit(w.1)
            o[2] = low + span * RNG.unit(w.2); o[3] = low + span * RNG.unit(w.3)
        }.reshaped(shape)
    }

    /// Normal values (Box-Muller on pairs of words).
    public mutating func normal(_ shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
        fill(Shape.count(shape)) { w, o, _ in
            func pair(_ a: UInt32, _ b: UInt32) -> (Float, Float) {
                let u1 = (Float(a >> 8) + 1) * 0x1p-24   // (0, 1]: log is finite
                let r = (-2 * Foundation.log(u1)).squareRoot(), theta = 2 * Float.pi * RNG.unit(b)
                return (r * Foundation.cos(theta), r * Foundation.sin(theta))
            }
            let (z0, z1) = pair(w.0, w.1), (z2, z3) = pair(w.2, w.3)
            o[0] = mean + std * z0; o[1] = mean + std * z1; o[2] = mean + std * z2; o[3] = mean + std * z3
        }.reshaped(shape)
    }

    /// PyTorch's kaiming_uniform_: U(-b, b) with b = gain * sqrt(3 / fanIn), gain = sqrt(2 / (1 + a^2)).
    /// The default a = sqrt(5) gives b = 1 / sqrt(fanIn), PyTorch's Linear init.
    public mutating func kaimingUniform(_ shape: [Int], fanIn: Int, a: Float = Float(5).squareRoot()) -> Tensor {
        let bound = (2 / (1 + a * a)).squareRoot() * (3 / Float(fanIn)).squareRoot()
        return uniform(shape, low: -bound, high: bound)
    }

    /// The next 32 random bits.
    public mutating func nextUInt32() -> UInt32 {
        defer { position &+= 1 }
        return block(position).0
    }

    /// Uniform in [0, 1).
    public mutating func nextFloat() -> Float { RNG.unit(nextUInt32()) }

    /// Uniform integer in `range` (rejection sampling, no modulo bias).
    public mutating func int(in range: Range<Int>) -> Int {
        precondition(!range.isEmpty, "int(in:) on an empty range")
        let n = UInt64(range.count)
        let limit = UInt64.max - UInt64.max % n
        while true {
            let x = UInt64(nextUInt32()) << 32 | UInt64(nextUInt32())
            if x < limit { return range.lowerBound + Int(x % n) }
        }
    }

    /// A uniformly random permutation of 0..<n (Fisher-Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, int(in: 0..<(i + 1))) } }
        return p
    }
}
