/// An 8-bit image: `height` rows of `width` pixels, each `channels` interleaved samples
/// (3 = RGB, 4 = RGBA), row-major with no padding. This is the form every image takes between
/// the codecs (`Image.read`, `write(to:)`), the Pillow-compatible resampling and the tensors
/// fed to the models.
public struct Image: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// 3 (RGB) or 4 (RGBA, straight alpha).
    public let channels: Int
    /// `height * width * channels` samples.
    public var pixels: [UInt8]

    /// Wraps existing samples; the count must be `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)x\(height)")
        precondition(channels == 3 || channels == 4, "an image has 3 or 4 channels, not \(channels)")
        precondition(pixels.count == width * height * channels,
                     "\(width)x\(height)x\(channels) image needs \(width * height * channels) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image filled with one colour (`color` holds `channels` samples).
    public init(width: Int, height: Int, color: [UInt8]) {
        precondition(color.count == 3 || color.count == 4, "a colour has 3 or 4 samples")
        var pixels = [UInt8](repeating: 0, count: width * height * color.count)
        for i in stride(from: 0, to: pixels.count, by: color.count) {
            for c in 0..<color.count { pixels[i + c] = color[c] }
        }
        self.init(width: width, height: height, channels: color.count, pixels: pixels)
    }

    public var hasAlpha: Bool { channels == 4 }

    /// The samples of pixel (x, y), for tests and spot checks (not for loops over an image).
    public subscript(x: Int, y: Int) -> [UInt8] {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
        let start = (y * width + x) * channels
        return Array(pixels[start..<start + channels])
    }

    /// The image as RGB. Without a background the alpha channel is dropped, as Pillow's
    /// `convert("RGB")` does (transparent pixels keep whatever colour they store). With a
    /// background the image is composited onto that opaque colour with Pillow's
    /// `Image.alpha_composite` integer arithmetic, which is what transformers' `convert_to_rgb`
    /// does with white. An RGB image is returned unchanged.
    public func rgb(background: (red: UInt8, green: UInt8, blue: UInt8)? = nil) -> Image {
        guard channels == 4 else { return self }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let count = width * height
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let background else {
                    for i in 0..<count {
                        dst[3 * i] = src[4 * i]; dst[3 * i + 1] = src[4 * i + 1]; dst[3 * i + 2] = src[4 * i + 2]
                    }
                    return
                }
                let back = [UInt32(background.red), UInt32(background.green), UInt32(background.blue)]
                for i in 0..<count {
                    let alpha = UInt32(src[4 * i + 3])
                    for c in 0..<3 {
                        if alpha == 0 { dst[3 * i + c] = UInt8(back[c]); continue }
                        // Pillow's alpha_composite over an opaque destination: 7 fractional bits,
                        // coefficients alpha*128 and (255-alpha)*128, rounded division by 255
                        // through the ((t >> 8) + t) >> 8 trick.
                        let t = UInt32(src[4 * i + c]) * alpha * 128 + back[c] * (255 - alpha) * 128 + (0x80 << 7)
                        dst[3 * i + c] = UInt8((((t >> 8) + t) >> 8) >> 7)
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: 3, pixels: out)
    }

    /// The image as RGBA; an RGB image gets an opaque alpha channel.
    public func rgba() -> Image {
        guard channels == 3 else { return self }
        var out = [UInt8](repeating: 255, count: width * height * 4)
        for i in 0..<(width * height) {
            out[4 * i] = pixels[3 * i]; out[4 * i + 1] = pixels[3 * i + 1]; out[4 * i + 2] = pixels[3 * i + 2]
        }
        return Image(width: width, height: height, channels: 4, pixels: out)
    }
}
