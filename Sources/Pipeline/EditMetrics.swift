import Foundation
import Formats

// Scores of a generated b' against the ground truth. Besides whole-image PSNR and SSIM, the
// paper's two axes: *preservation* (are the pixels the task leaves alone kept?) and *edit
// accuracy* (are the pixels the task changes changed as in the truth?), split by where the
// truth b' differs from b.

public struct EditScores: Codable, Equatable, Sendable {
    public var psnr: Double
    public var ssim: Double
    /// PSNR over the pixels where the truth equals b (nil when the task changes every pixel).
    public var preservationPSNR: Double?
    /// PSNR over the pixels where the truth differs from b (nil when the task changes nothing).
    public var editPSNR: Double?
    /// Share of pixels the task changes.
    public var changedFraction: Double

    enum CodingKeys: String, CodingKey {
        case psnr, ssim, preservationPSNR = "preservation_psnr", editPSNR = "edit_psnr", changedFraction = "changed_fraction"
    }
}

public enum EditMetrics {
    /// A pixel counts as changed by the task when some channel of the truth differs from b by
    /// more than this many levels (JPEG noise stays below it; the small world's edits do not).
    public static let changeThreshold = 8

    /// Scores `made` against `truth`, with `b` telling which pixels the task changes.
    public static func score(made: Image, truth: Image, b: Image) -> EditScores {
        let made = made.rgb(), truth = truth.rgb(), b = b.rgb().resized(width: truth.width, height: truth.height)
        precondition(made.width == truth.width && made.height == truth.height, "score: b' is \(made.width)x\(made.height), the truth \(truth.width)x\(truth.height)")
        let n = truth.width * truth.height
        var changed = [Bool](repeating: false, count: n)
        for i in 0..<n {
            for c in 0..<3 where abs(Int(truth.pixels[3 * i + c]) - Int(b.pixels[3 * i + c])) > changeThreshold { changed[i] = true }
        }
        func regionPSNR(_ keep: Bool) -> Double? {
            var se = 0.0, count = 0
            for i in 0..<n where changed[i] == keep {
                for c in 0..<3 { let d = Double(made.pixels[3 * i + c]) - Double(truth.pixels[3 * i + c]); se += d * d }
                count += 3
            }
            return count == 0 ? nil : psnrFromMSE(se / Double(count))
        }
        return EditScores(psnr: Pipeline.psnr(made, truth), ssim: ssim(made, truth), preservationPSNR: regionPSNR(false),
                          editPSNR: regionPSNR(true), changedFraction: Double(changed.filter { $0 }.count) / Double(n))
    }

    /// How visible a token grid is: the mean absolute step between neighbouring pixels across the
    /// seams of `cell` x `cell` tokens (pixel columns/rows that are multiples of `cell`) divided
    /// by the mean step everywhere else, over both axes and all channels. About 1 for a picture
    /// that ignores the grid, 0 for one whose every edge lies inside tokens; nil when the picture
    /// has no steps off the seams to compare with.
    public static func seamStepRatio(_ image: Image, cell: Int) -> Double? {
        let im = image.rgb(), w = im.width, h = im.height
        guard cell >= 2, w > cell || h > cell else { return nil }
        var seam = 0.0, seamCount = 0, other = 0.0, otherCount = 0
        func add(_ i: Int, _ j: Int, across: Bool) {
            var d = 0.0
            for c in 0..<3 { d += abs(Double(im.pixels[3 * i + c]) - Double(im.pixels[3 * j + c])) }
            if across { seam += d; seamCount += 3 } else { other += d; otherCount += 3 }
        }
        for y in 0..<h { for x in 1..<w { add(y * w + x, y * w + x - 1, across: x % cell == 0) } }
        for y in 1..<h { for x in 0..<w { add(y * w + x, (y - 1) * w + x, across: y % cell == 0) } }
        guard seamCount > 0, otherCount > 0, other > 0 else { return nil }
        return (seam / Double(seamCount)) / (other / Double(otherCount))
    }

    static func psnrFromMSE(_ mse: Double) -> Double { mse == 0 ? 100 : 10 * log10(255 * 255 / mse) }

    /// Mean SSIM over the RGB channels as scikit-image's `structural_similarity(x, y,
    /// channel_axis=-1, data_range=255, gaussian_weights=True)` computes it: Gaussian window
    /// sigma 1.5 (11 taps), population covariances, `reflect` borders, the mean taken over the
    /// interior that the window covers fully.
    public static func ssim(_ x: Image, _ y: Image) -> Double {
        let x = x.rgb(), y = y.rgb(), w = x.width, h = x.height
        precondition(w == y.width && h == y.height, "ssim: \(w)x\(h) against \(y.width)x\(y.height)")
        let radius = 5, sigma = 1.5
        var taps = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = taps.reduce(0, +)
        taps = taps.map { $0 / total }
        // scipy's "reflect": d c b a | a b c d | d c b a
        func reflect(_ i: Int, _ n: Int) -> Int {
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i - 1 : 2 * n - i - 1 }
            return i
        }
        func filter(_ v: [Double]) -> [Double] {
            var rows = [Double](repeating: 0, count: w * h), out = rows
            for r in 0..<h { for c in 0..<w { rows[r * w + c] = (-radius...radius).reduce(0) { $0 + taps[$1 + radius] * v[r * w + reflect(c + $1, w)] } } }
            for r in 0..<h { for c in 0..<w { out[r * w + c] = (-radius...radius).reduce(0) { $0 + taps[$1 + radius] * rows[reflect(r + $1, h) * w + c] } } }
            return out
        }
        let c1 = (0.01 * 255.0) * (0.01 * 255.0), c2 = (0.03 * 255.0) * (0.03 * 255.0)
        var sum = 0.0
        for ch in 0..<3 {
            let a = (0..<(w * h)).map { Double(x.pixels[3 * $0 + ch]) }, b = (0..<(w * h)).map { Double(y.pixels[3 * $0 + ch]) }
            let ma = filter(a), mb = filter(b)
            func product(_ u: [Double], _ v: [Double]) -> [Double] { zip(u, v).map { $0 * $1 } }
            let saa = filter(product(a, a)), sbb = filter(product(b, b)), sab = filter(product(a, b))
            var s = 0.0, count = 0
            for r in radius..<max(radius, h - radius) {
                for c in radius..<max(radius, w - radius) {
                    let i = r * w + c
                    let va = saa[i] - ma[i] * ma[i], vb = sbb[i] - mb[i] * mb[i], cov = sab[i] - ma[i] * mb[i]
                    s += ((2 * ma[i] * mb[i] + c1) * (2 * cov + c2)) / ((ma[i] * ma[i] + mb[i] * mb[i] + c1) * (va + vb + c2))
                    count += 1
                }
            }
            sum += count == 0 ? 1 : s / Double(count)
        }
        return sum / 3
    }
}
