import Foundation

// Deterministic random numbers for initialisation, dropout masks, noise and data shuffling.
//
// The generator is counter-based (Philox4x32-10): the n-th 32-bit word of a stream is a pure
// function of (seed, stream, n). Nothing is carried from one draw to the next except the integer
// n, so a tensor fill can be cut into chunks that run on any number of threads and still produce
// the same bits, and a training checkpoint can store the whole generator as three integers.

/// The Philox4x32-10 block function of Salmon, Moraes, Dror and Shaw, "Parallel Random Numbers:
/// As Easy as 1, 2, 3" (SC11): a keyed bijection of a 128-bit counter into 128 random bits.
/// Matches the Random123 known-answer vectors.
public enum Philox4x32 {
    /// Four 32-bit words: a counter going in, random bits coming out.
    public typealias Block = (UInt32, UInt32, UInt32, UInt32)

    /// Ten rounds of the Philox S-box on `counter` under the 64-bit `key` (two words).
    @inline(__always)
    public static func block(counter: Block, key: (UInt32, UInt32)) -> Block {
        var (x0, x1, x2, x3) = counter
        var (k0, k1) = key
        for round in 0..<10 {
            if round > 0 {
                // Weyl sequence key schedule (golden ratio and sqrt(3) - 1, as in the paper).
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            let p0 = UInt32(0xD251_1F53).multipliedFullWidth(by: x0)
            let p1 = UInt32(0xCD9E_8D57).multipliedFullWidth(by: x2)
            (x0, x1, x2, x3) = (p1.high ^ x1 ^ k0, p1.low, p0.high ^ x3 ^ k1, p0.low)
        }
        return (x0, x1, x2, x3)
    }
}

/// A deterministic, splittable random number generator (Philox4x32-10, counter based).
///
/// The generator is three integers: `seed` is the Philox key, `stream` selects an independent
/// sequence under that key, and `counter` is the position, in 32-bit words, of the next draw.
/// Word `n` is word `n % 4` of the Philox block whose 128-bit counter is `n / 4` in the low
/// 64 bits and `stream` in the high 64 bits, so any value can be computed without the ones
/// before it.
///
/// - Tensor fills (`uniform`, `normal`, `kaimingUniform`) start at the next multiple of 4 words
///   and give element `i` the bits of block `first + i / 4`. They run in parallel chunks and give
///   identical bits for every `Runtime.threads`.
/// - Scalar draws (`nextUInt32`, `nextFloat`, `int(in:)`, `shuffle`) consume single words.
/// - `fork(_:)` derives child streams from the seed, stream and an id only, never from the
///   counter, so adding draws to a parent does not change what its children produce.
///
/// Checkpoints store `seed`, `stream` and `counter` (or encode the value, it is `Codable`) and
/// resume with `RNG(seed:stream:counter:)`, which continues the identical sequence.
///
/// Bits are reproducible on every machine; `normal` also goes through the C library's `log`,
/// `sin` and `cos`, so its floats are bit-exact for a given libm (the same build and platform).
public struct RNG: Hashable, Codable, Sendable {
    /// The Philox key: the low 32 bits are key word 0, the high 32 bits key word 1.
    public let seed: UInt64
    /// Which of the 2^64 independent sequences under `seed` this generator draws from.
    public let stream: UInt64
    /// Position of the next draw, counted in 32-bit words from the start of the stream.
    public private(set) var counter: UInt64

    /// A generator at position `counter` (default: the start) of `stream` under `seed`.
    public init(seed: UInt64, stream: UInt64 = 0, counter: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.counter = counter
    }

    // MARK: Streams

    /// An independent generator for the sub-task `id`, at the start of its own stream.
    ///
    /// A pure function of `(seed, stream, id)`: the same id always gives the same child, different
    /// ids of one parent always give different streams, and the parent's position is irrelevant.
    /// Use distinct ids for distinct purposes (layer index, worker index, epoch).
    public func fork(_ id: UInt64) -> RNG {
        // fmix64 is a bijection, so for a fixed parent the child stream is injective in `id`;
        // mixing the parent first keeps grandchildren of sibling streams apart.
        RNG(seed: seed, stream: RNG.fmix64(RNG.fmix64(stream &+ 0x9E37_79B9_7F4A_7C15) ^ id))
    }

    /// `n` independent generators: `fork(0)`, ..., `fork(n - 1)`.
    public func split(_ n: Int) -> [RNG] {
        precondition(n >= 0, "split: negative count \(n)")
        return (0..<n).map { fork(UInt64($0)) }
    }

    // MARK: Scalar draws

    /// The next 32 random bits.
    public mutating func nextUInt32() -> UInt32 {
        let b = block(counter / 4)
        defer { counter += 1 }
        switch counter % 4 {
        case 0: return b.0
        case 1: return b.1
        case 2: return b.2
        default: return b.3
        }
    }

    /// The next 64 random bits (two words, the first one high).
    public mutating func nextUInt64() -> UInt64 {
        let hi = UInt64(nextUInt32())
        return hi << 32 | UInt64(nextUInt32())
    }

    /// A uniform float in [0, 1) with 24 random bits (every value is a multiple of 2^-24).
    public mutating func nextFloat() -> Float { RNG.unit(nextUInt32()) }

    /// A uniform integer in `range`, without modulo bias (Lemire's multiply-and-reject).
    public mutating func int(in range: Range<Int>) -> Int {
        precondition(!range.isEmpty, "int(in:): empty range \(range)")
        return int(in: range.lowerBound...(range.upperBound - 1))
    }

    /// A uniform integer in `range`, without modulo bias (Lemire's multiply-and-reject).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        // Width of the range in UInt64; 0 means all 2^64 values, where raw bits are already uniform.
        let span = UInt64(bitPattern: Int64(range.upperBound &- range.lowerBound)) &+ 1
        if span == 0 { return Int(bitPattern: UInt(nextUInt64())) }
        var m = nextUInt64().multipliedFullWidth(by: span)
        if m.low < span {
            // Reject the 2^64 mod span products that would over-represent the low results.
            let threshold = (0 &- span) % span
            while m.low < threshold { m = nextUInt64().multipliedFullWidth(by: span) }
        }
        return range.lowerBound &+ Int(bitPattern: UInt(m.high))
    }

    /// Shuffles `elements` in place (Fisher–Yates). The result depends only on the generator and
    /// the count, never on the standard library's shuffle algorithm, so it is stable across Swift
    /// versions.
    public mutating func shuffle<C: MutableCollection & RandomAccessCollection>(_ elements: inout C) {
        let n = elements.count
        if n < 2 { return }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = int(in: 0...i)
            if j != i {
                elements.swapAt(elements.index(elements.startIndex, offsetBy: i),
                                elements.index(elements.startIndex, offsetBy: j))
            }
        }
    }

    /// A uniformly random permutation of `0..<n`.
    public mutating func permutation(_ n: Int) -> [Int] {
        precondition(n >= 0, "permutation: negative count \(n)")
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }

    // MARK: Tensor fills

    /// A tensor of i.i.d. uniform values in [`low`, `high`) (24 random bits each; when the
    /// interval is wide relative to its endpoints, float rounding may produce `high` itself).
    public mutating func uniform(_ shape: [Int], low: Float = 0, high: Float = 1) -> Tensor {
        precondition(low <= high, "uniform: low \(low) > high \(high)")
        let width = high - low
        return fill(shape) { b in
            (low + width * RNG.unit(b.0), low + width * RNG.unit(b.1),
             low + width * RNG.unit(b.2), low + width * RNG.unit(b.3))
        }
    }

    /// A tensor of i.i.d. normal values N(`mean`, `std`²) by the Box–Muller transform: each
    /// block's words (0, 1) and (2, 3) are two uniforms in (0, 1] that give two normals.
    /// Computed in Float64 and rounded; the tails stop at about 6.7 standard deviations.
    public mutating func normal(_ shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
        precondition(std >= 0, "normal: negative std \(std)")
        return fill(shape) { b in
            let (z0, z1) = RNG.boxMuller(b.0, b.1), (z2, z3) = RNG.boxMuller(b.2, b.3)
            return (mean + std * z0, mean + std * z1, mean + std * z2, mean + std * z3)
        }
    }

    /// PyTorch's `kaiming_uniform_` (leaky-ReLU gain): U(-bound, bound) with
    /// bound = gain * sqrt(3 / fanIn) and gain = sqrt(2 / (1 + a²)). The default a = sqrt(5) is
    /// what `nn.Linear` uses, which gives bound = 1 / sqrt(fanIn).
    public mutating func kaimingUniform(_ shape: [Int], fanIn: Int, a: Float = Float(5).squareRoot()) -> Tensor {
        precondition(fanIn > 0, "kaimingUniform: fanIn must be positive, got \(fanIn)")
        let gain = (2 / (1 + Double(a) * Double(a))).squareRoot()
        let bound = Float(gain * (3 / Double(fanIn)).squareRoot())
        return uniform(shape, low: -bound, high: bound)
    }

    // MARK: Internals

    /// Philox block `index` of this stream.
    @inline(__always)
    private func block(_ index: UInt64) -> Philox4x32.Block {
        Philox4x32.block(
            counter: (UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32),
                      UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)),
            key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// Fills a new tensor four elements per Philox block, in parallel over blocks, and advances
    /// the counter past the blocks used. Starting at a block boundary keeps element i's bits a
    /// function of (first block + i / 4) alone, whatever the chunking.
    private mutating func fill(_ shape: [Int], _ transform: (Philox4x32.Block) -> (Float, Float, Float, Float)) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let n = out.count, blocks = (n + 3) / 4
        let first = (counter + 3) / 4
        counter = (first + UInt64(blocks)) * 4
        let generator = self, dst = out.data
        parallelFor(blocks, grain: 2048) { range in
            for b in range {
                let v = transform(generator.block(first + UInt64(b)))
                let p = dst + 4 * b
                if 4 * b + 4 <= n {
                    (p[0], p[1], p[2], p[3]) = v
                } else {
                    // The tail block of a fill whose count is not a multiple of 4.
                    withUnsafeBytes(of: v) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: 4 * (n - 4 * b)) }
                }
            }
        }
        return out
    }

    /// The top 24 bits of a word as a float in [0, 1); exact, since Float has a 24-bit significand.
    @inline(__always)
    private static func unit(_ w: UInt32) -> Float { Float(w >> 8) * 0x1p-24 }

    /// Two independent standard normals from two words, via uniforms in (0, 1] so that log is finite.
    @inline(__always)
    private static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Float, Float) {
        let u1 = (Double(a) + 1) * 0x1p-32, u2 = (Double(b) + 1) * 0x1p-32
        let r = (-2 * log(u1)).squareRoot(), theta = 2 * Double.pi * u2
        return (Float(r * cos(theta)), Float(r * sin(theta)))
    }

    /// MurmurHash3's 64-bit finaliser: a bijection with full avalanche.
    private static func fmix64(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z >> 33)
    }
}

extension Tensor {
    /// Standard normal values drawn from `rng` (see `RNG.normal`).
    public static func randn(_ shape: [Int], rng: inout RNG) -> Tensor { rng.normal(shape) }

    /// Uniform values in [0, 1) drawn from `rng` (see `RNG.uniform`).
    public static func rand(_ shape: [Int], rng: inout RNG) -> Tensor { rng.uniform(shape) }
}
