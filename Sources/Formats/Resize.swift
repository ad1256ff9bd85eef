import Foundation

/// Resampling filters of Pillow's `Image.resize`, reproduced bit for bit.
public enum ResampleFilter: String, Sendable, CaseIterable {
    case nearest, bilinear, bicubic

    /// Half-width of the filter kernel in source pixels at scale 1 (Pillow's `support`).
    var support: Double {
        switch self {
        case .nearest: return 0
        case .bilinear: return 1
        case .bicubic: return 2
        }
    }

    /// The kernel. Bicubic is Keys' cubic with a = -0.5; the expressions keep Pillow's operation
    /// order so the double-precision weights, and hence the rounded fixed-point ones, agree.
    @inline(__always) func weight(_ t: Double) -> Double {
        let x = abs(t)
        switch self {
        case .nearest: return 0
        case .bilinear: return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// Which Pillow release's pass order to reproduce. The two differ only when both axes are
/// resampled and the height shrinks by more than twice as many pixels as the width; there the
/// intermediate 8-bit rounding usually moves a few samples by 1 level (rarely more).
public enum ResamplePassOrder: Sendable {
    /// Pillow 13 and later (the fixtures' Pillow): vertical pass first in that case.
    case pillow13
    /// Pillow 12 and earlier, including 11.3 pinned by the LoRWeB release: always horizontal first.
    case horizontalFirst
}

extension Image {
    /// This image resized to `width` x `height`, identical to Pillow's
    /// `Image.resize((width, height), filter)` on mode RGB / RGBA (default `reducing_gap=None`).
    ///
    /// How Pillow does it, and so how this does:
    /// - Same size: a copy. NEAREST: source pixel `floor((i + 0.5) * in/out)`, with the position
    ///   accumulated step by step in double precision exactly as Pillow's affine scaler does.
    /// - BILINEAR / BICUBIC: separable, horizontal pass first (only over the rows the vertical pass
    ///   will read), then vertical — except that, as in Pillow 13, the vertical pass goes first when
    ///   the height shrinks by more than twice as many pixels as the width. When shrinking, the kernel is stretched by the scale factor
    ///   (antialiasing): support = filter support * max(in/out, 1). Each output sample's weights
    ///   are normalised to sum 1, then rounded to signed fixed point with 22 fractional bits;
    ///   sums start at one half (1 << 21) and are shifted down and clamped to 0...255 after each pass.
    /// - RGBA is resampled premultiplied (Pillow converts RGBA -> RGBa -> RGBA) so transparent
    ///   pixels do not bleed their colour.
    public func resized(width outWidth: Int, height outHeight: Int, filter: ResampleFilter = .bicubic,
                        passOrder: ResamplePassOrder = .pillow13) -> Image {
        precondition(outWidth > 0 && outHeight > 0, "resize target \(outWidth)x\(outHeight) must be positive")
        precondition(width > 0 && height > 0, "cannot resize an empty \(width)x\(height) image")
        if outWidth == width && outHeight == height { return self }
        if filter == .nearest { return nearestResized(width: outWidth, height: outHeight) }
        if channels == 4 {
            return premultiplied().convolutionResized(width: outWidth, height: outHeight, filter: filter, passOrder: passOrder)
                .unpremultiplied()
        }
        return convolutionResized(width: outWidth, height: outHeight, filter: filter, passOrder: passOrder)
    }

    private func nearestResized(width outWidth: Int, height outHeight: Int) -> Image {
        // Pillow: scale = in/out as double, start at scale/2, add scale per step, truncate.
        func table(_ inSize: Int, _ outSize: Int) -> [Int] {
            let step = Double(Float(inSize)) / Double(outSize)
            var position = step * 0.5
            var indices = [Int](repeating: 0, count: outSize)
            for i in 0..<outSize {
                indices[i] = min(Int(position), inSize - 1)
                position += step
            }
            return indices
        }
        let xs = table(width, outWidth), ys = table(height, outHeight)
        let c = channels
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * c)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outHeight {
                    let row = ys[y] * width * c
                    var o = y * outWidth * c
                    for x in 0..<outWidth {
                        let s = row + xs[x] * c
                        for k in 0..<c { dst[o + k] = src[s + k] }
                        o += c
                    }
                }
            }
        }
        return Image(width: outWidth, height: outHeight, channels: c, pixels: out)
    }

    private func convolutionResized(width outWidth: Int, height outHeight: Int, filter: ResampleFilter,
                                    passOrder: ResamplePassOrder) -> Image {
        let vertical = ResampleKernel(inSize: height, outSize: outHeight, filter: filter)
        let horizontal = outWidth != width ? ResampleKernel(inSize: width, outSize: outWidth, filter: filter) : nil
        guard let horizontal else { return verticalPass(vertical, rowOffset: 0) }
        if outHeight == height { return horizontalPass(horizontal, rows: 0..<height) }
        // Pillow 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height
        // shrinks by more than twice as many pixels as the width does; the 8-bit rounding between
        // passes makes the order visible in the result, so follow it.
        if passOrder == .pillow13 && outHeight < height && 2 * (width - outWidth) < height - outHeight {
            return verticalPass(vertical, rowOffset: 0).horizontalPass(horizontal, rows: 0..<outHeight)
        }
        // Horizontal first, only over the rows the vertical pass will read.
        let first = vertical.firstSourceIndex, last = vertical.lastSourceIndex
        return horizontalPass(horizontal, rows: first..<last).verticalPass(vertical, rowOffset: first)
    }

    /// Resamples each row in `rows` to the kernel's output width.
    private func horizontalPass(_ kernel: ResampleKernel, rows: Range<Int>) -> Image {
        let c = channels, outWidth = kernel.outSize, ksize = kernel.ksize
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * c)
        pixels.withUnsafeBufferPointer { src in
            kernel.weights.withUnsafeBufferPointer { weights in
                kernel.starts.withUnsafeBufferPointer { starts in
                    kernel.counts.withUnsafeBufferPointer { counts in
                        out.withUnsafeMutableBufferPointer { dst in
                            var o = 0
                            for y in rows {
                                let row = y * width * c
                                for x in 0..<outWidth {
                                    let start = row + starts[x] * c, taps = counts[x], k = x * ksize
                                    for channel in 0..<c {
                                        var sum: Int32 = ResampleKernel.half
                                        var s = start + channel
                                        for t in 0..<taps {
                                            sum &+= Int32(src[s]) &* weights[k + t]
                                            s += c
                                        }
                                        dst[o] = ResampleKernel.clip(sum)
                                        o += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Image(width: outWidth, height: rows.count, channels: c, pixels: out)
    }

    /// Resamples columns; source row r of the kernel is row `r - rowOffset` of this image.
    private func verticalPass(_ kernel: ResampleKernel, rowOffset: Int) -> Image {
        let rowLength = width * channels, outHeight = kernel.outSize, ksize = kernel.ksize
        var out = [UInt8](repeating: 0, count: rowLength * outHeight)
        // One accumulator row, reused for every output row: the inner loop runs along the
        // contiguous row so it vectorises.
        var sums = [Int32](repeating: 0, count: rowLength)
        pixels.withUnsafeBufferPointer { src in
            kernel.weights.withUnsafeBufferPointer { weights in
                sums.withUnsafeMutableBufferPointer { acc in
                    out.withUnsafeMutableBufferPointer { dst in
                        for y in 0..<outHeight {
                            for i in 0..<rowLength { acc[i] = ResampleKernel.half }
                            let first = kernel.starts[y] - rowOffset
                            for t in 0..<kernel.counts[y] {
                                let w = weights[y * ksize + t]
                                let row = (first + t) * rowLength
                                for i in 0..<rowLength { acc[i] &+= Int32(src[row + i]) &* w }
                            }
                            let o = y * rowLength
                            for i in 0..<rowLength { dst[o + i] = ResampleKernel.clip(acc[i]) }
                        }
                    }
                }
            }
        }
        return Image(width: width, height: outHeight, channels: channels, pixels: out)
    }

    /// RGBA -> Pillow's premultiplied "RGBa": c * a / 255 rounded, via ((t >> 8) + t) >> 8.
    private func premultiplied() -> Image {
        var out = pixels
        out.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 4) {
                let alpha = UInt32(p[i + 3])
                for k in 0..<3 {
                    let t = UInt32(p[i + k]) * alpha + 128
                    p[i + k] = UInt8(((t >> 8) + t) >> 8)
                }
            }
        }
        return Image(width: width, height: height, channels: 4, pixels: out)
    }

    /// Pillow's "RGBa" -> RGBA: c * 255 / a truncated and clamped; alpha 0 and 255 pass through.
    private func unpremultiplied() -> Image {
        var out = pixels
        out.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 4) {
                let alpha = UInt32(p[i + 3])
                if alpha == 0 || alpha == 255 { continue }
                for k in 0..<3 { p[i + k] = UInt8(min(255, UInt32(p[i + k]) * 255 / alpha)) }
            }
        }
        return Image(width: width, height: height, channels: 4, pixels: out)
    }
}

/// Pillow's per-output-sample filter taps for one axis: the first source index, the number of
/// taps, and `ksize` fixed-point weights per output sample (unused ones zero).
struct ResampleKernel {
    static let precisionBits: Int32 = 22          // 32 - 8 - 2: 8 bits of sample, 2 of headroom
    static let half: Int32 = 1 << (precisionBits - 1)

    let outSize: Int
    let ksize: Int
    var starts: [Int]
    var counts: [Int]
    var weights: [Int32]

    init(inSize: Int, outSize: Int, filter: ResampleFilter) {
        // Pillow passes the box edges as C floats, then works in double.
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = max(scale, 1)                  // stretch the kernel only when shrinking
        let support = filter.support * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        self.outSize = outSize
        self.ksize = ksize
        starts = [Int](repeating: 0, count: outSize)
        counts = [Int](repeating: 0, count: outSize)
        weights = [Int32](repeating: 0, count: outSize * ksize)
        var taps = [Double](repeating: 0, count: ksize)
        for i in 0..<outSize {
            let center = (Double(i) + 0.5) * scale
            let inverse = 1.0 / filterScale
            // Int() truncates toward zero like C's (int) cast; the +0.5 rounds the window edges.
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            let count = hi - lo
            var total = 0.0
            for t in 0..<count {
                let w = filter.weight((Double(t + lo) - center + 0.5) * inverse)
                taps[t] = w
                total += w
            }
            for t in 0..<count {
                let w = total != 0 ? taps[t] / total : taps[t]
                // Round half away from zero, then truncate: Pillow's (int)(+-0.5 + w * 2^22).
                let scaled = w * Double(1 << Self.precisionBits)
                weights[i * ksize + t] = Int32(w < 0 ? scaled - 0.5 : scaled + 0.5)
            }
            starts[i] = lo
            counts[i] = count
        }
    }

    /// First source index any output sample reads.
    var firstSourceIndex: Int { starts[0] }
    /// One past the last source index read by the last output sample.
    var lastSourceIndex: Int { starts[outSize - 1] + counts[outSize - 1] }

    /// Fixed-point sum -> sample: drop the fraction (arithmetic shift) and clamp to 0...255.
    @inline(__always) static func clip(_ sum: Int32) -> UInt8 {
        let v = sum >> precisionBits
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(v))
    }
}
