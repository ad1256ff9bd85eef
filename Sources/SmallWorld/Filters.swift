import Formats
import Foundation
import Tensor

// Whole-picture pixel operations: the colour, tone and style families. Each is a pure function
// of the input pixels and its parameter (the noise comes from a fixed stream), so the same task
// gives the same kind of change on any picture, which is what an analogy needs.

/// Pixel filters on RGB images; every function keeps the image size.
enum Filters {
    /// Applies `f` to every pixel's (r, g, b) in 0...255 and stores the rounded, clamped result.
    static func map(_ image: inout Image, _ f: (Double, Double, Double) -> (Double, Double, Double)) {
        image.pixels.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 3) {
                let (r, g, b) = f(Double(p[i]), Double(p[i + 1]), Double(p[i + 2]))
                p[i] = clamp8(r); p[i + 1] = clamp8(g); p[i + 2] = clamp8(b)
            }
        }
    }

    /// Applies a 3x3 colour matrix (rows give output r, g, b).
    static func matrix(_ image: inout Image, _ m: [Double]) {
        map(&image) { r, g, b in
            (m[0] * r + m[1] * g + m[2] * b, m[3] * r + m[4] * g + m[5] * b, m[6] * r + m[7] * g + m[8] * b)
        }
    }

    /// ITU-R BT.601 luma, the weights Pillow's `convert("L")` uses.
    @inline(__always)
    static func luma(_ r: Double, _ g: Double, _ b: Double) -> Double { 0.299 * r + 0.587 * g + 0.114 * b }

    /// The CSS `hue-rotate` matrix: turns hues by `degrees` while keeping luminance.
    static func hueRotate(_ image: inout Image, degrees: Double) {
        let a = degrees * Double.pi / 180, c = cos(a), s = sin(a)
        matrix(&image, [
            0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928,
            0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140, 0.072 - c * 0.072 - s * 0.283,
            0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072,
        ])
    }

    static func sepia(_ image: inout Image, amount t: Double) {
        let sepia = [0.393, 0.769, 0.189, 0.349, 0.686, 0.168, 0.272, 0.534, 0.131]
        let identity: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        matrix(&image, zip(identity, sepia).map { $0 + ($1 - $0) * t })
    }

    static func saturation(_ image: inout Image, factor: Double) {
        map(&image) { r, g, b in
            let y = luma(r, g, b)
            return (y + (r - y) * factor, y + (g - y) * factor, y + (b - y) * factor)
        }
    }

    /// Maps the luma of each pixel onto the line from `dark` to `light`.
    static func duotone(_ image: inout Image, dark: RGB, light: RGB) {
        map(&image) { r, g, b in
            let t = luma(r, g, b) / 255
            func m(_ a: UInt8, _ b: UInt8) -> Double { Double(a) + (Double(b) - Double(a)) * t }
            return (m(dark.r, light.r), m(dark.g, light.g), m(dark.b, light.b))
        }
    }

    /// Reorders channels: `order` names the source of output r, g, b, e.g. "gbr".
    static func channelSwap(_ image: inout Image, order: String) {
        let source = order.map { ["r": 0, "g": 1, "b": 2][$0]! }
        let (s0, s1, s2) = (source[0], source[1], source[2])
        image.pixels.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 3) {
                (p[i], p[i + 1], p[i + 2]) = (p[i + s0], p[i + s1], p[i + s2])
            }
        }
    }

    /// Replaces each sample through a 256-entry table.
    static func lookup(_ image: inout Image, _ table: [UInt8]) {
        image.pixels.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = table[Int(p[i])] }
        }
    }

    static func table(_ f: (Double) -> Double) -> [UInt8] { (0..<256).map { clamp8(f(Double($0))) } }

    // MARK: Neighbourhood filters

    /// Box blur of radius `radius` (a (2r+1)² window, edges clamped), separable and exact:
    /// integer sums with rounding, horizontal then vertical.
    static func blur(_ image: inout Image, radius: Int) {
        let (w, h) = (image.width, image.height), window = 2 * radius + 1
        var pass = [Int](repeating: 0, count: 3 * w * h)
        let src = image.pixels
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    var sum = 0
                    for d in -radius...radius { sum += Int(src[3 * (y * w + min(max(x + d, 0), w - 1)) + c]) }
                    pass[3 * (y * w + x) + c] = sum
                }
            }
        }
        let divisor = window * window
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    var sum = 0
                    for d in -radius...radius { sum += pass[3 * (min(max(y + d, 0), h - 1) * w + x) + c] }
                    image.pixels[3 * (y * w + x) + c] = UInt8((sum + divisor / 2) / divisor)
                }
            }
        }
    }

    /// Replaces every `block` x `block` cell with its mean colour.
    static func pixelate(_ image: inout Image, block: Int) {
        let (w, h) = (image.width, image.height)
        for by in stride(from: 0, to: h, by: block) {
            for bx in stride(from: 0, to: w, by: block) {
                let ys = by..<min(by + block, h), xs = bx..<min(bx + block, w)
                let count = ys.count * xs.count
                for c in 0..<3 {
                    var sum = 0
                    for y in ys { for x in xs { sum += Int(image.pixels[3 * (y * w + x) + c]) } }
                    let mean = UInt8((sum + count / 2) / count)
                    for y in ys { for x in xs { image.pixels[3 * (y * w + x) + c] = mean } }
                }
            }
        }
    }

    /// Luma of every pixel, for the edge-based filters.
    static func lumaPlane(_ image: Image) -> [Double] {
        (0..<(image.width * image.height)).map {
            luma(Double(image.pixels[3 * $0]), Double(image.pixels[3 * $0 + 1]), Double(image.pixels[3 * $0 + 2]))
        }
    }

    /// A line drawing: black where the Sobel gradient of the luma is strong, white elsewhere.
    static func edges(_ image: inout Image) {
        let (w, h) = (image.width, image.height), l = lumaPlane(image)
        func at(_ x: Int, _ y: Int) -> Double { l[min(max(y, 0), h - 1) * w + min(max(x, 0), w - 1)] }
        for y in 0..<h {
            for x in 0..<w {
                let gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1)
                let gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1)
                let v: UInt8 = gx * gx + gy * gy > 80 * 80 ? 0 : 255
                let i = 3 * (y * w + x)
                image.pixels[i] = v; image.pixels[i + 1] = v; image.pixels[i + 2] = v
            }
        }
    }

    /// Grey relief: 128 plus the luma difference across one pixel along direction (dx, dy).
    static func emboss(_ image: inout Image, dx: Int, dy: Int) {
        let (w, h) = (image.width, image.height), l = lumaPlane(image)
        func at(_ x: Int, _ y: Int) -> Double { l[min(max(y, 0), h - 1) * w + min(max(x, 0), w - 1)] }
        for y in 0..<h {
            for x in 0..<w {
                let v = clamp8(128 + 2 * (at(x + dx, y + dy) - at(x - dx, y - dy)))
                let i = 3 * (y * w + x)
                image.pixels[i] = v; image.pixels[i + 1] = v; image.pixels[i + 2] = v
            }
        }
    }

    /// Unsharp masking against a radius-1 box blur.
    static func sharpen(_ image: inout Image, amount: Double) {
        var blurred = image
        blur(&blurred, radius: 1)
        for i in image.pixels.indices {
            let v = Double(image.pixels[i])
            image.pixels[i] = clamp8(v + amount * (v - Double(blurred.pixels[i])))
        }
    }

    /// Adds uniform noise in ±`amount`. The noise comes from one fixed stream, so it is the same
    /// pattern on every picture of a size: a' and b' get the same grain.
    static func noise(_ image: inout Image, amount: Double) {
        var rng = RNG(seed: 0x5EED_0F_5A11_0A1D)
        for i in image.pixels.indices {
            let n = (Double(rng.nextFloat()) * 2 - 1) * amount
            image.pixels[i] = clamp8(Double(image.pixels[i]) + n)
        }
    }

    /// Darkens towards the corners: factor 1 - strength * (distance / corner distance)².
    static func vignette(_ image: inout Image, strength: Double) {
        let (w, h) = (image.width, image.height)
        let cx = Double(w) / 2, cy = Double(h) / 2, far = cx * cx + cy * cy
        for y in 0..<h {
            for x in 0..<w {
                let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                let f = 1 - strength * (dx * dx + dy * dy) / far
                for c in 0..<3 { image.pixels[3 * (y * w + x) + c] = clamp8(Double(image.pixels[3 * (y * w + x) + c]) * f) }
            }
        }
    }

    /// Darkens every `period`-th row to 40%, like an old screen.
    static func scanlines(_ image: inout Image, period: Int) {
        let rowBytes = 3 * image.width
        for y in stride(from: 0, to: image.height, by: period) {
            for i in (y * rowBytes)..<((y + 1) * rowBytes) { image.pixels[i] = clamp8(Double(image.pixels[i]) * 0.4) }
        }
    }

    /// Ordered (4x4 Bayer) dithering of each channel to black or full intensity.
    static func dither(_ image: inout Image) {
        let bayer = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5]
        let w = image.width
        for y in 0..<image.height {
            for x in 0..<w {
                let threshold = (bayer[(y % 4) * 4 + x % 4] * 16 + 8)
                for c in 0..<3 {
                    let i = 3 * (y * w + x) + c
                    image.pixels[i] = Int(image.pixels[i]) > threshold ? 255 : 0
                }
            }
        }
    }

    /// Shifts row y sideways by round(amplitude * sin(4 pi y / height)) pixels, edges clamped.
    static func wave(_ image: inout Image, amplitude: Double) {
        let (w, h) = (image.width, image.height), src = image.pixels
        for y in 0..<h {
            let shift = Int((amplitude * sin(4 * Double.pi * Double(y) / Double(h))).rounded())
            for x in 0..<w {
                let sx = min(max(x - shift, 0), w - 1)
                for c in 0..<3 { image.pixels[3 * (y * w + x) + c] = src[3 * (y * w + sx) + c] }
            }
        }
    }

    /// The right half becomes the mirror image of the left half.
    static func mirrorHalf(_ image: inout Image) {
        let w = image.width
        for y in 0..<image.height {
            for x in (w / 2)..<w {
                for c in 0..<3 { image.pixels[3 * (y * w + x) + c] = image.pixels[3 * (y * w + (w - 1 - x)) + c] }
            }
        }
    }

    /// Four half-size copies (2x2 means) tiled over the picture; needs an even size.
    static func tile(_ image: inout Image) {
        let (w, h) = (image.width, image.height), src = image.pixels
        for y in 0..<h {
            for x in 0..<w {
                let sx = 2 * (x % (w / 2)), sy = 2 * (y % (h / 2))
                for c in 0..<3 {
                    let sum = Int(src[3 * (sy * w + sx) + c]) + Int(src[3 * (sy * w + sx + 1) + c])
                        + Int(src[3 * ((sy + 1) * w + sx) + c]) + Int(src[3 * ((sy + 1) * w + sx + 1) + c])
                    image.pixels[3 * (y * w + x) + c] = UInt8((sum + 2) / 4)
                }
            }
        }
    }

    /// A frame `max(1, size / 16)` pixels wide in `color`.
    static func border(_ image: inout Image, color: RGB) {
        let (w, h) = (image.width, image.height), t = max(1, min(w, h) / 16)
        for y in 0..<h {
            for x in 0..<w where x < t || y < t || x >= w - t || y >= h - t {
                let i = 3 * (y * w + x)
                image.pixels[i] = color.r; image.pixels[i + 1] = color.g; image.pixels[i + 2] = color.b
            }
        }
    }
}

/// Rounds to the nearest integer and clamps to 0...255.
@inline(__always)
func clamp8(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
