// IEEE float16 and bfloat16 <-> Float32, by bit manipulation.
//
// Checkpoints arrive in float16 (the LoRWeB release) or bfloat16 (training dtype) and we compute in
// float32. Swift's `Float16` would do the scalar conversion, but on the baseline x86-64 target it
// calls a compiler-rt routine per element; the branch-free forms below turn every special case into
// a select, so the loops auto-vectorise in release builds. They agree bit for bit with `Float16`
// (tested over all 65,536 patterns and the rounding ties).
//
// Rounding is to nearest, ties to even; finite values beyond the largest half round to infinity;
// NaNs stay NaN (made quiet, sign and leading payload bits kept), as hardware converters do.

/// Conversions between 16-bit floating-point bit patterns (`UInt16`) and `Float`.
///
/// ```swift
/// HalfFloat.float(fromF16: 0x3C00)   // 1.0
/// HalfFloat.f16(from: 65520)         // 0x7C00 (+inf: rounds past the largest half, 65504)
/// ```
public enum HalfFloat {
    // MARK: - Scalars

    /// The `Float` value of an IEEE binary16 bit pattern (exact: every half is a float).
    @inlinable @inline(__always)
    public static func float(fromF16 h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        // Normal numbers: rebias the exponent from 15 to 127 and widen the mantissa.
        let normal = ((exponent + 112) << 23) | (mantissa << 13)
        // Subnormals (and zero) are mantissa * 2^-24, which a float holds exactly.
        let subnormal = (Float(mantissa) * 0x1p-24).bitPattern
        // Infinity and NaN keep their payload; the quiet bit is set as hardware does.
        let special = 0x7F80_0000 | (mantissa << 13) | (mantissa != 0 ? 0x0040_0000 : 0)
        let magnitude = exponent == 0 ? subnormal : (exponent == 0x1F ? special : normal)
        return Float(bitPattern: sign | magnitude)
    }

    /// The IEEE binary16 bit pattern nearest to `x` (ties to even; overflow gives infinity).
    @inlinable @inline(__always)
    public static func f16(from x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let abs = bits & 0x7FFF_FFFF
        // |x| >= 65520 (halfway between 65504 and the next binade) rounds to infinity.
        let overflow: UInt32 = abs > 0x7F80_0000 ? 0x7E00 | ((abs >> 13) & 0x03FF) : 0x7C00
        // Below 2^-14 the result is subnormal: adding 0.5 aligns the float's mantissa so that
        // the hardware's own round-to-nearest-even drops exactly the bits a half cannot keep.
        let aligned = (Float(bitPattern: abs) + 0.5).bitPattern &- 0x3F00_0000
        // Normal range: rebias, then round the 13 dropped bits to nearest even.
        let odd = (abs >> 13) & 1
        let normal = (abs &+ 0xC800_0FFF &+ odd) >> 13  // 0xC8000000 = (15 - 127) << 23
        let magnitude = abs >= 0x4780_0000 ? overflow : (abs < 0x3880_0000 ? aligned : normal)
        return sign | UInt16(truncatingIfNeeded: magnitude)
    }

    /// The `Float` value of a bfloat16 bit pattern (exact: bfloat16 is a float's top half).
    @inlinable @inline(__always)
    public static func float(fromBF16 h: UInt16) -> Float {
        Float(bitPattern: UInt32(h) << 16)
    }

    /// The bfloat16 bit pattern nearest to `x` (ties to even; NaN stays a quiet NaN).
    @inlinable @inline(__always)
    public static func bf16(from x: Float) -> UInt16 {
        let bits = x.bitPattern
        // Adding 0x7FFF plus the lowest kept bit rounds the dropped half-word to nearest even;
        // a carry into the exponent is the correct result, including the overflow to infinity.
        let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
        let quietNaN = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        return (bits & 0x7FFF_FFFF) > 0x7F80_0000 ? quietNaN : rounded
    }

    // MARK: - Buffers

    /// Below this many elements a buffer is converted on the calling thread.
    @usableFromInline static let parallelGrain = 1 << 16

    /// Converts `count` float16 values starting at `source` (any alignment, little-endian as
    /// stored in files) into `destination`, in parallel for large buffers.
    public static func decodeF16(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, grain: parallelGrain) { range in
            for i in range {
                let h = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = float(fromF16: h)
            }
        }
    }

    /// Converts `count` bfloat16 values starting at `source` (any alignment, little-endian)
    /// into `destination`, in parallel for large buffers.
    public static func decodeBF16(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, grain: parallelGrain) { range in
            for i in range {
                let h = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = float(fromBF16: h)
            }
        }
    }

    /// Rounds `count` floats to float16 bit patterns, in parallel for large buffers.
    public static func encodeF16(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
        parallelFor(count, grain: parallelGrain) { range in
            for i in range { destination[i] = f16(from: source[i]) }
        }
    }

    /// Rounds `count` floats to bfloat16 bit patterns, in parallel for large buffers.
    public static func encodeBF16(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
        parallelFor(count, grain: parallelGrain) { range in
            for i in range { destination[i] = bf16(from: source[i]) }
        }
    }

    // MARK: - Arrays (tests and small data)

    /// float16 bit patterns to floats.
    public static func decodeF16(_ bits: [UInt16]) -> [Float] { converted(bits) { decodeF16(UnsafeRawPointer($0), into: $1, count: $2) } }

    /// Floats to float16 bit patterns.
    public static func encodeF16(_ values: [Float]) -> [UInt16] { converted(values) { encodeF16($0, into: $1, count: $2) } }

    /// bfloat16 bit patterns to floats.
    public static func decodeBF16(_ bits: [UInt16]) -> [Float] { converted(bits) { decodeBF16(UnsafeRawPointer($0), into: $1, count: $2) } }

    /// Floats to bfloat16 bit patterns.
    public static func encodeBF16(_ values: [Float]) -> [UInt16] { converted(values) { encodeBF16($0, into: $1, count: $2) } }

    /// An array run through one of the buffer kernels above.
    private static func converted<Source, Destination>(_ values: [Source],
                                                       _ kernel: (UnsafePointer<Source>, UnsafeMutablePointer<Destination>, Int) -> Void) -> [Destination] {
        values.withUnsafeBufferPointer { src in
            [Destination](unsafeUninitializedCapacity: values.count) { dst, n in
                if let s = src.baseAddress, let d = dst.baseAddress { kernel(s, d, values.count) }
                n = values.count
            }
        }
    }
}
