import Formats
import Tensor

// Self-supervised pretraining of the small world's image encoder (SimCLR, Chen et al. 2020):
// two augmented views of each image are positives, every other image in the batch a negative,
// scored by the NT-Xent loss. The encoder never sees split or task labels. The augmentations
// keep colour, texture and layout (what the world's edits change) and vary only what no edit
// is defined by: a small shift and pixel noise.

public enum Contrastive {
    /// NT-Xent over embeddings [2N, E] where rows i and i + N are views of the same image:
    /// mean over rows of -log softmax(cos(z_i, z_j) / temperature)[positive], self excluded.
    public static func ntXent(_ z: Tensor, temperature: Float = 0.2) -> Tensor {
        let m = z.shape[0], n = m / 2
        precondition(m % 2 == 0 && m >= 4, "ntXent: needs [2N, E] with N >= 2, got \(z.shape)")
        let unit = z.l2Normalized()                                                     // [2N, E]
        var maskValues = [Float](repeating: 0, count: m * m), positive = [Float](repeating: 0, count: m * m)
        for i in 0..<m {
            maskValues[i * m + i] = -1e9                     // a view is not its own negative
            positive[i * m + (i + n) % m] = 1
        }
        let logits = unit.matmul(unit, transposeB: true) * (1 / temperature) + Tensor(shape: [m, m], data: maskValues)
        return -(logits.logSoftmax() * Tensor(shape: [m, m], data: positive)).sum() / Float(m)
    }

    /// A view for contrastive training: shifted by up to `maxShift` pixels (edges replicated)
    /// plus uniform noise of +-`noise` levels, both drawn from `rng`.
    public static func augment(_ image: Image, rng: inout RNG, maxShift: Int = 2, noise: Int = 6) -> Image {
        let dx = rng.int(in: -maxShift..<(maxShift + 1)), dy = rng.int(in: -maxShift..<(maxShift + 1))
        let (w, h, c) = (image.width, image.height, image.channels)
        var pixels = [UInt8](repeating: 0, count: image.pixels.count)
        for y in 0..<h {
            let sy = min(max(y - dy, 0), h - 1)
            for x in 0..<w {
                let sx = min(max(x - dx, 0), w - 1)
                for ch in 0..<c {
                    let v = Int(image.pixels[(sy * w + sx) * c + ch]) + rng.int(in: -noise..<(noise + 1))
                    pixels[(y * w + x) * c + ch] = UInt8(min(max(v, 0), 255))
                }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: pixels)
    }
}
