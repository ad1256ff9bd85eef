extension Image {
    /// The `width` x `height` region whose top-left corner is (`x`, `y`), with Pillow's
    /// `Image.crop` semantics: the box may extend past the image, and the part outside is
    /// filled with zeros (transparent black for RGBA).
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> Image {
        precondition(cropWidth >= 0 && cropHeight >= 0, "negative crop size \(cropWidth)x\(cropHeight)")
        let c = channels
        var out = [UInt8](repeating: 0, count: cropWidth * cropHeight * c)
        // Intersection of the box with the image, in source coordinates.
        let x0 = max(x, 0), x1 = min(x + cropWidth, width)
        let y0 = max(y, 0), y1 = min(y + cropHeight, height)
        if x0 < x1 && y0 < y1 {
            let span = (x1 - x0) * c
            pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for sy in y0..<y1 {
                        let from = (sy * width + x0) * c
                        let to = ((sy - y) * cropWidth + (x0 - x)) * c
                        dst.baseAddress!.advanced(by: to).update(from: src.baseAddress!.advanced(by: from), count: span)
                    }
                }
            }
        }
        return Image(width: cropWidth, height: cropHeight, channels: c, pixels: out)
    }

    /// The centred `width` x `height` region, with transformers' `center_crop` rounding:
    /// top = (H - h) / 2 and left = (W - w) / 2 rounded down. (torchvision's CenterCrop rounds
    /// half to even instead; the two differ by one pixel when H - h is odd.) The crop may be
    /// larger than the image; the margin is zero-filled.
    public func centerCropped(width cropWidth: Int, height cropHeight: Int) -> Image {
        cropped(x: Self.floorHalf(width - cropWidth), y: Self.floorHalf(height - cropHeight),
                width: cropWidth, height: cropHeight)
    }

    /// Copies `image` into this one with its top-left corner at (`x`, `y`) (Pillow's `paste`
    /// without a mask); the parts falling outside are dropped. Channel counts must match.
    public mutating func paste(_ image: Image, x: Int, y: Int) {
        precondition(image.channels == channels, "cannot paste a \(image.channels)-channel image into a \(channels)-channel one")
        let c = channels
        let x0 = max(x, 0), x1 = min(x + image.width, width)
        let y0 = max(y, 0), y1 = min(y + image.height, height)
        guard x0 < x1 && y0 < y1 else { return }
        let span = (x1 - x0) * c
        let targetWidth = width
        image.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for ty in y0..<y1 {
                    let from = ((ty - y) * image.width + (x0 - x)) * c
                    let to = (ty * targetWidth + x0) * c
                    dst.baseAddress!.advanced(by: to).update(from: src.baseAddress!.advanced(by: from), count: span)
                }
            }
        }
    }

    /// Python's `n // 2` (floor division, also for negative n).
    static func floorHalf(_ n: Int) -> Int { n >= 0 ? n / 2 : -((-n + 1) / 2) }
}
