import Tensor

/// How 8-bit samples map to floats.
public enum PixelRange: Sendable {
    /// u / 255, in [0, 1] (torchvision `ToTensor`, CLIP before normalisation).
    case unit
    /// 2 (u / 255) - 1, in [-1, 1]: what the Flux VAE encodes (diffusers `VaeImageProcessor`).
    case signed
}

/// Memory order of an image tensor.
public enum PixelLayout: Sendable {
    /// [channels, height, width]: the models' layout.
    case chw
    /// [height, width, channels]: the files' layout.
    case hwc
}

extension Image {
    /// The samples as floats, `[C, H, W]` or `[H, W, C]` with C = `channels`.
    public func tensor(range: PixelRange = .unit, layout: PixelLayout = .chw) -> Tensor {
        let c = channels, plane = width * height
        let t = Tensor(uninitialized: layout == .chw ? [c, height, width] : [height, width, c])
        let out = t.data
        pixels.withUnsafeBufferPointer { src in
            for i in 0..<plane {
                for k in 0..<c {
                    let unit = Float(src[i * c + k]) / 255
                    let value = range == .unit ? unit : unit * 2 - 1
                    out[layout == .chw ? k * plane + i : i * c + k] = value
                }
            }
        }
        return t
    }

    /// An image from a float tensor of shape `[C, H, W]` or `[H, W, C]` (C = 3 or 4). Values are
    /// clamped to the range, then rounded half to even, as diffusers' `numpy_to_pil` does
    /// (`(x / 2 + 0.5).clamp(0, 1) * 255`, `round`). Throws if the shape is not an image.
    public init(tensor: Tensor, range: PixelRange = .unit, layout: PixelLayout = .chw) throws {
        guard tensor.rank == 3 else { throw FormatError("<tensor>", "an image tensor has rank 3, got shape \(tensor.shape)") }
        let (c, h, w) = layout == .chw
            ? (tensor.shape[0], tensor.shape[1], tensor.shape[2])
            : (tensor.shape[2], tensor.shape[0], tensor.shape[1])
        guard c == 3 || c == 4 else {
            throw FormatError("<tensor>", "an image tensor has 3 or 4 channels, got shape \(tensor.shape) (\(layout))")
        }
        let plane = w * h
        var pixels = [UInt8](repeating: 0, count: plane * c)
        let src = tensor.data
        pixels.withUnsafeMutableBufferPointer { dst in
            for i in 0..<plane {
                for k in 0..<c {
                    let value = src[layout == .chw ? k * plane + i : i * c + k]
                    let unit = range == .unit ? value : value / 2 + 0.5
                    let clamped = unit.isNaN ? 0 : min(max(unit, 0), 1)
                    dst[i * c + k] = UInt8((clamped * 255).rounded(.toNearestOrEven))
                }
            }
        }
        self.init(width: w, height: h, channels: c, pixels: pixels)
    }
}
