import CKernels

// exp as straight-line Float arithmetic, so that loops calling it vectorise: libm's expf and
// tanhf are opaque calls, and in the small model's GELU/softmax they took half of a forward.

/// e^x within ~2 ulp (Cephes expf: Cody-Waite reduction by ln 2, degree-6 polynomial), 0 below
/// -87.3 (where the result would be subnormal), +inf above 88.7, NaN for NaN.
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let clamped = x.isNaN ? 0 : Swift.min(Swift.max(x, -87.336_54), 88.722_83)
    // Round to nearest through the 1.5 * 2^23 shifter: branch-free (Int32(Float) traps, which
    // would keep the loop scalar), and the integer is read off the low mantissa bits.
    let shifted = clamped * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    let ni = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4   // ln 2 split in two for an exact product
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_91e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    // 2^n as two normal factors: n spans [-126, 128], beyond one float exponent at both ends.
    let half = ni >> 1
    let scaleA = Float(bitPattern: UInt32(truncatingIfNeeded: half &+ 127) << 23)
    let scaleB = Float(bitPattern: UInt32(truncatingIfNeeded: ni &- half &+ 127) << 23)
    let y = (p * (r * r) + r + 1) * scaleA * scaleB
    if x.isNaN { return x }
    return x < -87.336_54 ? 0 : (x > 88.722_83 ? .infinity : y)
}

/// tanh(x) = 1 - 2 / (e^{2x} + 1): absolute error ~1e-7 (relative error grows near 0, so the
/// public `tanh()` op keeps libm; the GELU approximation only needs absolute accuracy).
@inline(__always)
func fastTanh(_ x: Float) -> Float { 1 - 2 / (fastExp(2 * x) + 1) }

/// x[j] = fastExp(x[j] - shift) for j < n, at the CPU's full vector width (Sources/CKernels: the
/// same arithmetic, bit for bit), returning the sum of the results in index order.
@inline(__always)
func expShiftedSum(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float { lorweb_exp_shifted_sum(x, n, shift) }

/// x[j] = fastExp(x[j] - shift) for j < n, at the CPU's full vector width.
@inline(__always)
func expShifted(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) { lorweb_exp_shifted(x, n, shift) }

/// The largest of x[0..<n] (NaN skipped, as Swift.max skips it), at full vector width.
@inline(__always)
func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float { lorweb_max(x, n) }
