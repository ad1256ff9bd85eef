// The resolutions an analogy grid is generated at, as the release picks them.

/// ai-toolkit's aspect buckets (toolkit/buckets.py): the SDXL resolution list scaled to a target
/// resolution and floored to a multiple of `divisibility`; an image goes to the bucket that a
/// covering resize followed by a centre crop would cut the fewest pixels from.
public enum AspectBuckets {
    /// (width, height) at 1024 resolution, landscape to portrait.
    static let base: [(Int, Int)] = [
        (1024, 1024), (2048, 512), (1984, 512), (1920, 512), (1856, 512), (1792, 576), (1728, 576), (1664, 576),
        (1600, 640), (1536, 640), (1472, 704), (1408, 704), (1344, 704), (1344, 768), (1280, 768), (1216, 832),
        (1152, 832), (1152, 896), (1088, 896), (1088, 960), (1024, 960), (960, 1024), (960, 1088), (896, 1088),
        (896, 1152), (832, 1152), (832, 1216), (768, 1280), (768, 1344), (704, 1408), (704, 1472), (640, 1536),
        (640, 1600), (576, 1664), (576, 1728), (576, 1792), (512, 1856), (512, 1920), (512, 1984), (512, 2048),
        (8192, 128), (128, 8192),
    ]

    /// The bucket for an image of `width` x `height`, at most `resolution`^2 pixels (the image's
    /// own resolution when smaller, as the release does), sides multiples of `divisibility`;
    /// nil when the image is too small for any bucket of that divisibility.
    public static func bucket(width: Int, height: Int, resolution: Int = 512, divisibility: Int = 64) -> (width: Int, height: Int)? {
        let res = min(resolution, Int(Double(width * height).squareRoot()))
        let scale = Double(res) / 1024
        let sizes = base.map { (w, h) -> (Int, Int) in
            let sw = Int(Double(w) * scale), sh = Int(Double(h) * scale)
            return (sw - sw % divisibility, sh - sh % divisibility)
        }
        if let exact = sizes.first(where: { $0 == (width, height) }) { return exact }
        var best: (Int, Int)? = nil, fewest = Int.max
        for (bw, bh) in sizes where bw > 0 && bh > 0 {
            let s = max(Double(bw) / Double(width), Double(bh) / Double(height))
            let nw = Int(Double(width) * s), nh = Int(Double(height) * s)
            let removed = (nw - bw) * nh + (nh - bh) * nw
            if removed < fewest { fewest = removed; best = (bw, bh) }
        }
        return best
    }
}
