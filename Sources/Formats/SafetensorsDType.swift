import Tensor

/// The element types a safetensors header may name, spelled as in the header (`"F16"`, ...).
///
/// Every type can be inspected. Loading as `Float` converts each type the way `torch.float()`
/// does: floats exactly (float64 rounded to nearest), integers by value (rounded beyond 2^24),
/// booleans as 0 and 1. Writing supports float32, float16 and bfloat16.
public enum SafetensorsDType: String, CaseIterable, Sendable, Comparable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: 1
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// Converts `count` little-endian elements at `source` (any alignment) to floats.
    func decode(_ source: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>, count: Int) {
        func each<T: FixedWidthInteger>(_: T.Type, _ convert: (T) -> Float) {
            for i in 0..<count {
                out[i] = convert(T(littleEndian: source.loadUnaligned(fromByteOffset: i * byteSize, as: T.self)))
            }
        }
        switch self {
        case .f32: each(UInt32.self) { Float(bitPattern: $0) }
        case .f16: HalfFloat.decodeF16(source, into: out, count: count)
        case .bf16: HalfFloat.decodeBF16(source, into: out, count: count)
        case .f64: each(UInt64.self) { Float(Double(bitPattern: $0)) }
        // E5M2 is the top byte of an IEEE half, so the half conversion does all the work.
        case .f8e5m2: each(UInt8.self) { HalfFloat.float(fromF16: UInt16($0) << 8) }
        case .f8e4m3: each(UInt8.self, Self.floatFromE4M3)
        case .i64: each(Int64.self) { Float($0) }
        case .i32: each(Int32.self) { Float($0) }
        case .i16: each(Int16.self) { Float($0) }
        case .i8: each(Int8.self) { Float($0) }
        case .u64: each(UInt64.self) { Float($0) }
        case .u32: each(UInt32.self) { Float($0) }
        case .u16: each(UInt16.self) { Float($0) }
        case .u8: each(UInt8.self) { Float($0) }
        case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
        }
    }

    /// float8 E4M3 in its "FN" form (the one PyTorch and safetensors use): exponent bias 7,
    /// no infinities, and only the all-ones pattern is NaN.
    static func floatFromE4M3(_ b: UInt8) -> Float {
        let sign: Float = b & 0x80 != 0 ? -1 : 1
        let exponent = Int((b >> 3) & 0x0F), mantissa = Float(b & 0x07)
        if exponent == 0x0F && b & 0x07 == 0x07 { return .nan }
        if exponent == 0 { return sign * mantissa * 0x1p-9 }
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }
}
