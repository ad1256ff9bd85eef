import Testing
@testable import Tensor
import TestSupport

// float16 is checked against Swift's `Float16` (compiler-rt's conversions, themselves IEEE-exact);
// bfloat16 against a reference that rounds by comparing exact distances in Double.

/// NaNs compare by "both NaN, quiet, same sign"; everything else bit for bit.
private func sameFloat(_ a: Float, _ b: Float) -> Bool {
    if a.isNaN || b.isNaN {
        return a.isNaN && b.isNaN && a.sign == b.sign && !a.isSignalingNaN && !b.isSignalingNaN
    }
    return a.bitPattern == b.bitPattern
}

@Test func f16ToFloatMatchesFloat16ForAllPatterns() {
    let all = (0...UInt16.max).map { $0 }
    let ours = HalfFloat.decodeF16(all)
    var bad = 0
    for h in all {
        let expected = Float(Float16(bitPattern: h))
        if !sameFloat(ours[Int(h)], expected) || ours[Int(h)].bitPattern != HalfFloat.float(fromF16: h).bitPattern {
            bad += 1
            if bad <= 5 { Issue.record("f16 0x\(String(h, radix: 16)): got \(ours[Int(h)]) expected \(expected)") }
        }
    }
    #expect(bad == 0)
}

@Test func floatToF16RoundTripsEveryHalf() {
    // Every half is exactly a float, so converting back must return it (NaNs come back quiet).
    var bad = 0
    for h in 0...UInt16.max {
        let back = HalfFloat.f16(from: HalfFloat.float(fromF16: h))
        let isNaN = h & 0x7C00 == 0x7C00 && h & 0x03FF != 0
        if isNaN ? back != h | 0x0200 : back != h {
            bad += 1
            if bad <= 5 { Issue.record("0x\(String(h, radix: 16)) -> 0x\(String(back, radix: 16))") }
        }
    }
    #expect(bad == 0)
}

@Test func floatToF16RoundsTiesToEvenLikeFloat16() {
    // For each pair of neighbouring finite halves, the float midpoint and the floats one ulp
    // either side of it: the three cases that decide rounding.
    var bad = 0
    for h in UInt16(0)..<0x7C00 {
        for sign: UInt16 in [0, 0x8000] {
            let lo = HalfFloat.float(fromF16: h | sign), hi = HalfFloat.float(fromF16: (h + 1) | sign)
            let mid = (lo + hi) / 2   // exact: halves have 11 significant bits, floats 24
            for x in [mid.nextDown, mid, mid.nextUp] {
                let expected = Float16(x).bitPattern
                if HalfFloat.f16(from: x) != expected {
                    bad += 1
                    if bad <= 5 { Issue.record("\(x): got 0x\(String(HalfFloat.f16(from: x), radix: 16)) expected 0x\(String(expected, radix: 16))") }
                }
            }
        }
    }
    #expect(bad == 0)
    #expect(HalfFloat.f16(from: 65504) == 0x7BFF)
    #expect(HalfFloat.f16(from: 65519.996) == 0x7BFF)
    #expect(HalfFloat.f16(from: 65520) == 0x7C00)        // tie with odd 65504: rounds to inf
    #expect(HalfFloat.f16(from: 1e10) == 0x7C00)
    #expect(HalfFloat.f16(from: -.infinity) == 0xFC00)
    #expect(HalfFloat.f16(from: 0x1p-25) == 0)           // tie between 0 and the smallest subnormal
    #expect(HalfFloat.f16(from: Float(0x1p-25).nextUp) == 1)
    #expect(HalfFloat.f16(from: -0.0) == 0x8000)
    #expect(HalfFloat.f16(from: .nan) & 0x7E00 == 0x7E00)
}

@Test func floatToF16MatchesFloat16OnRandomFloats() {
    var state: UInt64 = 0x1234_5678
    let values: [Float] = (0..<200_000).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32))
    }
    let ours = HalfFloat.encodeF16(values)
    var bad = 0
    for (x, h) in zip(values, ours) where !sameFloat(HalfFloat.float(fromF16: h), Float(Float16(x))) { bad += 1 }
    #expect(bad == 0)
}

/// Reference bfloat16 rounding: pick the nearer of the two bfloat16 neighbours, by exact
/// distance in Double; on a tie, the one with an even last bit.
private func referenceBF16(_ x: Float) -> UInt16 {
    if x.isNaN { return UInt16(x.bitPattern >> 16) | 0x0040 }
    let down = UInt16(x.bitPattern >> 16)   // truncation: towards zero
    if x.bitPattern & 0xFFFF == 0 { return down }   // exact (this includes the infinities)
    let up = down &+ 1                       // away from zero (may carry into inf)
    let dDown = abs(Double(x) - Double(Float(bitPattern: UInt32(down) << 16)))
    // IEEE rounding treats infinity as 2^128, the next value of an unbounded exponent range.
    let upValue = up & 0x7FFF == 0x7F80 ? Double(x.sign == .minus ? -1 : 1) * 0x1p128 : Double(Float(bitPattern: UInt32(up) << 16))
    let dUp = abs(upValue - Double(x))
    if dDown != dUp { return dDown < dUp ? down : up }
    return down & 1 == 0 ? down : up
}

@Test func bf16MatchesReference() {
    var state: UInt64 = 99
    var values: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, .greatestFiniteMagnitude,
                           Float(bitPattern: 0x3F80_8000),  // tie, even below: stays 0x3F80
                           Float(bitPattern: 0x3F81_8000),  // tie, odd below: goes to 0x3F82
                           Float(bitPattern: 0x7F7F_8000),  // tie at the top: rounds to inf
                           Float(bitPattern: 0x0000_8000)]  // tie in the subnormals
    for _ in 0..<200_000 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        values.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32)))
    }
    let ours = HalfFloat.encodeBF16(values)
    for (x, b) in zip(values, ours) where b != referenceBF16(x) {
        Issue.record("\(x) (0x\(String(x.bitPattern, radix: 16))): got 0x\(String(b, radix: 16)) expected 0x\(String(referenceBF16(x), radix: 16))")
        break
    }
    #expect(ours[8] == 0x3F80 && ours[9] == 0x3F82 && ours[10] == 0x7F80 && ours[11] == 0)
    #expect(HalfFloat.float(fromBF16: 0x7F80) == .infinity)
}

@Test func bf16DecodeIsExactForAllPatterns() {
    let all = (0...UInt16.max).map { $0 }
    let floats = HalfFloat.decodeBF16(all)
    for h in all where floats[Int(h)].bitPattern != UInt32(h) << 16 {
        Issue.record("bf16 0x\(String(h, radix: 16)) decoded to \(floats[Int(h)])")
        break
    }
    // Exact decode means every non-NaN pattern round-trips.
    #expect(zip(all, HalfFloat.encodeBF16(floats)).allSatisfy { h, b in h & 0x7FFF > 0x7F80 || h == b })
}

@Test func largeBuffersConvertInParallelIdentically() {
    let n = 1 << 20
    let values = (0..<n).map { Float($0 % 70_000) * 1.37 - 40_000 }
    let halves = HalfFloat.encodeF16(values)
    let back = HalfFloat.decodeF16(halves)
    for i in stride(from: 0, to: n, by: 997) {
        #expect(halves[i] == HalfFloat.f16(from: values[i]) && back[i] == HalfFloat.float(fromF16: halves[i]))
    }
}
