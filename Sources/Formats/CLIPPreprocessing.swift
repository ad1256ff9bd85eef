import Tensor

/// The image preprocessing of transformers' `CLIPImageProcessor` (the PIL implementation, as
/// configured for openai/clip-vit-large-patch14), reproduced exactly:
///
/// 1. RGB (alpha dropped; the analogy pipeline only ever passes RGB).
/// 2. Resize so the shorter side is `size`, the other side `Int(size * long / short)`
///    (truncated, `get_resize_output_image_size(default_to_square: false)`), Pillow BICUBIC.
/// 3. Centre crop `cropSize` x `cropSize` (offsets rounded down).
/// 4. x = Float(Double(u) * (1/255)), then (x - mean) / std in Float32, per channel.
///
/// The result is `[3, cropSize, cropSize]`, channel-first, matching `pixel_values[i]` to the
/// last float bit. The released encoder uses 224; the small-world encoders use 32 or 64.
public struct CLIPPreprocessor: Sendable {
    /// OpenAI's normalisation as its preprocessor_config.json spells it.
    static let openAIDecimals = (mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
    public static let openAIMean = openAIDecimals.mean.map(Float.init)
    public static let openAIStd = openAIDecimals.std.map(Float.init)

    /// Target of the shorter side after resizing.
    public let size: Int
    /// Side of the square centre crop.
    public let cropSize: Int
    public let mean: [Float]
    public let std: [Float]

    public init(size: Int = 224, cropSize: Int? = nil, mean: [Float] = openAIMean, std: [Float] = openAIStd) {
        precondition(size > 0 && (cropSize ?? size) > 0, "CLIP sizes must be positive")
        precondition(mean.count == 3 && std.count == 3, "mean and std need one value per RGB channel")
        self.size = size
        self.cropSize = cropSize ?? size
        self.mean = mean
        self.std = std
    }

    /// The `preprocessor_config.json` with which transformers' `CLIPImageProcessor` does exactly
    /// this, so a model folder carrying it is complete for `AutoImageProcessor.from_pretrained`.
    public var transformersConfig: [String: Any] {
        // OpenAI's own decimals for its constants, so the file reads like every CLIP folder's;
        // other values exactly as the Float32 they are.
        func decimals(_ v: [Float], _ published: [Double]) -> [Double] { v == published.map(Float.init) ? published : v.map(Double.init) }
        return [
            "image_processor_type": "CLIPImageProcessor",
            "do_convert_rgb": true,
            "do_resize": true, "size": ["shortest_edge": size], "resample": 3,
            "do_center_crop": true, "crop_size": ["height": cropSize, "width": cropSize],
            "do_rescale": true, "rescale_factor": 1.0 / 255.0,
            "do_normalize": true, "image_mean": decimals(mean, Self.openAIDecimals.mean), "image_std": decimals(std, Self.openAIDecimals.std),
        ]
    }

    /// The (width, height) the shorter-side resize produces for a `width` x `height` image.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let short = min(width, height), long = max(width, height)
        // Python: int(size * long / short); the product is exact, the division correctly rounded.
        let newLong = Int(Double(size * long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// The normalised pixel values `[3, cropSize, cropSize]` of one image.
    public func callAsFunction(_ image: Image) -> Tensor {
        let rgb = image.rgb()
        let target = resizedSize(width: rgb.width, height: rgb.height)
        let square = rgb.resized(width: target.width, height: target.height, filter: .bicubic)
            .centerCropped(width: cropSize, height: cropSize)
        let t = Tensor(uninitialized: [3, cropSize, cropSize])
        write(square, into: t.data)
        return t
    }

    /// A batch `[N, 3, cropSize, cropSize]` (the `pixel_values` of a list of images).
    public func batch(_ images: [Image]) -> Tensor {
        let t = Tensor(uninitialized: [images.count, 3, cropSize, cropSize])
        let stride = 3 * cropSize * cropSize
        for (n, image) in images.enumerated() {
            let single = self(image)
            (t.data + n * stride).update(from: single.data, count: stride)
        }
        return t
    }

    private func write(_ square: Image, into out: UnsafeMutablePointer<Float>) {
        let plane = cropSize * cropSize
        square.pixels.withUnsafeBufferPointer { src in
            for k in 0..<3 {
                let m = mean[k], s = std[k]
                for i in 0..<plane {
                    // transformers rescales in float64 and casts to float32, then normalises in float32.
                    let x = Float(Double(src[3 * i + k]) * (1.0 / 255.0))
                    out[k * plane + i] = (x - m) / s
                }
            }
        }
    }
}
