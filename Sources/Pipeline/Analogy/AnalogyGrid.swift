import Formats

/// The 2x2 "box analogy" composite LoRWeB generates in, built exactly as the authors' release
/// builds it (orincolor/LoRWeB: `inference.py`, `toolkit/dataloader_mixins.py`,
/// `extensions_built_in/flux_kontext.py`):
///
/// ```
/// +----+----+
/// | a  | a' |     conditioning grid: bottom-right holds b (a copy of bottom-left)
/// +----+----+     target grid:       bottom-right holds b'
/// | b  | b' |
/// +----+----+
/// ```
///
/// Everything is RGB (inputs with alpha have it dropped, like the release's `convert("RGB")`);
/// every resize is Pillow BICUBIC via `Image.resized`, so grids match the release's pixel for pixel.
public enum AnalogyGrid {
    /// The inference conditioning grid from a, a', b (`process_control_image_with_replace`):
    /// with (w, h) = a's size, a' and b are resized to (w, h), the grid is 2w x 2h with b in both
    /// bottom quadrants. With `maxSize`, a grid whose side exceeds it is resized (bicubic) so
    /// its long edge is `maxSize`: (maxSize, Int(h * maxSize / w)) when w > h, otherwise
    /// (Int(w * maxSize / h), maxSize) (truncating, as the release does).
    public static func conditioning(a: Image, aPrime: Image, b: Image, maxSize: Int? = nil) -> Image {
        let a = a.rgb(), w = a.width, h = a.height
        let bSized = b.rgb().resized(width: w, height: h)
        var grid = Image(width: 2 * w, height: 2 * h, color: [0, 0, 0])
        grid.paste(a, x: 0, y: 0)
        grid.paste(aPrime.rgb().resized(width: w, height: h), x: w, y: 0)
        grid.paste(bSized, x: 0, y: h)
        grid.paste(bSized, x: w, y: h)
        if let maxSize, 2 * w > maxSize || 2 * h > maxSize {
            let target = w > h
                ? (maxSize, Int(Double(h * maxSize) / Double(w)))
                : (Int(Double(w * maxSize) / Double(h)), maxSize)
            return grid.resized(width: target.0, height: target.1)
        }
        return grid
    }

    /// A training sample's two grids, from the stored control strip [a | a' | b] and the target b'
    /// (`_create_box_analogy_image` + bucket fitting + `load_control_image`):
    ///
    /// 1. (W, H) = b' size; the strip is resized to (3W, H) and cut into thirds of width W.
    /// 2. The target grid [[a, a'], [b, b']] is 2W x 2H.
    /// 3. With a `bucket` (w, h) (the release's aspect bucket of about 512^2, sides multiples
    ///    of 64, chosen from b''s aspect ratio), the grid is resized to cover it,
    ///    (ceil(W * s), ceil(H * s)) with s = max(w / W, h / H) — the scale is computed from b''s
    ///    size, as the release does — and centre-cropped at ((sw - w) / 2, (sh - h) / 2) rounded down.
    /// 4. The conditioning grid is the target with its bottom-left quadrant copied over the
    ///    bottom-right (quadrant size: half the grid, rounded down).
    public static func training(strip: Image, bPrime: Image, bucket: (width: Int, height: Int)? = nil)
        -> (target: Image, conditioning: Image)
    {
        let target = bPrime.rgb(), w = target.width, h = target.height
        let strip = strip.rgb().resized(width: 3 * w, height: h)
        var grid = Image(width: 2 * w, height: 2 * h, color: [0, 0, 0])
        grid.paste(strip.cropped(x: 0, y: 0, width: w, height: h), x: 0, y: 0)
        grid.paste(strip.cropped(x: w, y: 0, width: w, height: h), x: w, y: 0)
        grid.paste(strip.cropped(x: 2 * w, y: 0, width: w, height: h), x: 0, y: h)
        grid.paste(target, x: w, y: h)
        if let bucket {
            let scale = max(Double(bucket.width) / Double(w), Double(bucket.height) / Double(h))
            let scaledWidth = Int((Double(w) * scale).rounded(.up))
            let scaledHeight = Int((Double(h) * scale).rounded(.up))
            grid = grid.resized(width: scaledWidth, height: scaledHeight)
                .cropped(x: (scaledWidth - bucket.width) / 2, y: (scaledHeight - bucket.height) / 2,
                         width: bucket.width, height: bucket.height)
        }
        return (grid, maskedTarget(grid))
    }

    /// A target grid with the bottom-left quadrant copied over the bottom-right: the
    /// conditioning image of training. Quadrants split at (width / 2, height / 2) rounded down;
    /// the grid's sides must be even (the release's torch slice assignment fails otherwise).
    public static func maskedTarget(_ grid: Image) -> Image {
        precondition(grid.width % 2 == 0 && grid.height % 2 == 0, "grid sides must be even, got \(grid.width)x\(grid.height)")
        let hw = grid.width / 2, hh = grid.height / 2
        var out = grid
        out.paste(grid.cropped(x: 0, y: hh, width: hw, height: hh), x: hw, y: hh)
        return out
    }

    /// The grid with its bottom-right quadrant (split as in `bottomRight`) set to zero: the
    /// image the grid query mode (caa'b) embeds, which must not see b'.
    public static func withoutBottomRight(_ grid: Image) -> Image {
        var out = grid
        let hw = grid.width / 2, hh = grid.height / 2
        out.paste(Image(width: grid.width - hw, height: grid.height - hh, color: [UInt8](repeating: 0, count: grid.channels)), x: hw, y: hh)
        return out
    }

    /// b' from a generated grid: the box (W / 2, H / 2, W, H), halves rounded down (`inference.py`).
    public static func bottomRight(_ grid: Image) -> Image {
        grid.cropped(x: grid.width / 2, y: grid.height / 2, width: grid.width - grid.width / 2,
                     height: grid.height - grid.height / 2)
    }

    /// Where the release takes the half-side of the query crops from.
    public enum QueryConvention: Sendable {
        /// Inference, on the PIL grid: half = width / 2 for both axes; a = (0, 0, half, half),
        /// a' = (half, 0, W, half), b = (0, half, half, H), Pillow crops (zero-filled outside).
        case inference
        /// Training, on the [B, 3, H, W] tensor: half = `shape[2] / 2`, which is H / 2, for both
        /// axes; a = [:half, :half], a' = [:half, half:], b = [half:, :half], clamped slices.
        case training
    }

    /// The three images whose CLIP embeddings form the query ("cat-aa'b"). Both conventions use
    /// one half-side for both axes, so they are exact quadrants only for square grids; for
    /// other grids they reproduce the release's crops, stretched or clipped as they are there.
    public static func queryCrops(_ grid: Image, convention: QueryConvention) -> (a: Image, aPrime: Image, b: Image) {
        let W = grid.width, H = grid.height
        switch convention {
        case .inference:
            let half = W / 2
            return (grid.cropped(x: 0, y: 0, width: half, height: half),
                    grid.cropped(x: half, y: 0, width: W - half, height: half),
                    grid.cropped(x: 0, y: half, width: half, height: H - half))
        case .training:
            let half = H / 2
            // Slices clamp to the tensor: a slice past the edge is shorter (or empty), never padded.
            func slice(_ rows: Range<Int>, _ cols: Range<Int>) -> Image {
                let r = rows.clamped(to: 0..<H), c = cols.clamped(to: 0..<W)
                return grid.cropped(x: c.lowerBound, y: r.lowerBound, width: c.count, height: r.count)
            }
            return (slice(0..<half, 0..<half), slice(0..<half, half..<max(half, W)), slice(half..<H, 0..<half))
        }
    }
}
