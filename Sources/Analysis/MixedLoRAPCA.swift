import Foundation
import Formats
import Pipeline
import Tensor

// PCA of the mixed LoRAs of many triplets without forming any of them. In one layer the mixed
// LoRA of triplet t is Delta W_t = s sum_i alpha_ti A_i B_i, so with Phi = s [vec(A_1 B_1) ..
// vec(A_n B_n)] every Delta W_t = Phi alpha_t and <Delta W_u, Delta W_t>_F = alpha_u^T (s^2 G)
// alpha_t. Centring commutes with Phi, and for the symmetric square root M = (s^2 G)^(1/2) the
// rows of Y = (alpha - mean alpha) M have exactly the inner products of the centred Delta Ws:
// Phi = U M for some U with orthonormal columns, so PCA of Y (n columns) is PCA of the vectorised
// Delta Ws (in x out columns), same variances, same scores. Pooled over layers the Frobenius
// inner product is the sum over layers, which is PCA of the layers' Y side by side.

public struct PCAResult {
    /// Variance along each principal axis, descending (sample variance, divisor T - 1).
    public let variance: [Double]
    /// Coordinates of the T rows on the first axes [T, components].
    public let scores: Tensor

    public var explainedRatio: [Double] {
        let total = variance.reduce(0, +)
        return variance.map { total > 0 ? $0 / total : 0 }
    }
}

public enum MixedLoRAPCA {
    /// PCA of the rows of `x` [T, d] (centred here). Each axis's sign is fixed so that its
    /// largest-magnitude score is positive, making results reproducible.
    public static func pca(_ x: Tensor, components: Int) throws -> PCAResult {
        precondition(x.rank == 2, "pca: \(x.shape) is not [rows, features]")
        let (t, d) = (x.shape[0], x.shape[1])
        guard t >= 2 else { throw ValidationFailure("PCA needs at least 2 triplets, got \(t)") }
        let centred = withNoGrad { x - x.mean(axis: 0, keepDims: true) }
        let (u, s, _) = try Linalg.svd(centred)
        let k = min(t, d), c = min(components, k)
        let sv = s.toArray().map(Double.init)
        let uData = u!.toArray()
        var scores = [Float](repeating: 0, count: t * c)
        for j in 0..<c {
            var pivot = 0
            for i in 0..<t where abs(uData[i * k + j]) > abs(uData[pivot * k + j]) { pivot = i }
            let sign: Float = uData[pivot * k + j] < 0 ? -1 : 1
            for i in 0..<t { scores[i * c + j] = sign * uData[i * k + j] * Float(sv[j]) }
        }
        return PCAResult(variance: sv.map { $0 * $0 / Double(t - 1) }, scores: Tensor(shape: [t, c], data: scores))
    }

    /// Y = alpha M [T, n] for coefficients `alpha` [T, n] and the symmetric square root M of the
    /// layer's metric s^2 G (`gram` [n, n] without the scale). Small negative eigenvalues that
    /// rounding leaves in a positive semidefinite G are taken as 0.
    public static func metricCoordinates(_ alpha: Tensor, gram: Tensor, scale: Float) throws -> Tensor {
        let (values, vectors) = try Linalg.eigh(withNoGrad { gram * (scale * scale) })
        let root = Tensor(shape: [1, values.count], data: values.toArray().map { max($0, 0).squareRoot() })
        return withNoGrad {
            let m = (vectors * root).matmul(vectors, transposeB: true)
            return alpha.matmul(m)
        }
    }

    public struct Result {
        /// Per layer [L, min(T, n)] variances of the layer's mixed LoRAs.
        public let layerVariance: Tensor
        /// Per layer scores on the first two axes [L, T, 2].
        public let layerScores: Tensor
        /// All layers' Delta Ws as one vector per triplet.
        public let pooled: PCAResult
        /// The raw coefficients, flattened [T, L n], in the Euclidean metric.
        public let raw: PCAResult
    }

    /// PCA of the mixed LoRAs of `coefficients` [T, L, n] per layer and pooled, plus the raw
    /// coefficient embeddings; `grams` are the L layers' [n, n] Gram matrices (without scale).
    public static func analyse(coefficients: Tensor, grams: [Tensor], scale: Float, components: Int = 10) throws -> Result {
        precondition(coefficients.rank == 3 && coefficients.shape[1] == grams.count, "pca: coefficients \(coefficients.shape) for \(grams.count) layers")
        let (t, l, n) = (coefficients.shape[0], coefficients.shape[1], coefficients.shape[2])
        let centred = withNoGrad { coefficients - coefficients.mean(axis: 0, keepDims: true) }
        var ys: [Tensor] = [], variances: [Float] = [], layerScores: [Float] = []
        let k = min(t, n)
        for i in 0..<l {
            let alpha = withNoGrad { centred.sliced(axis: 1, i..<(i + 1)).reshaped([t, n]) }
            let y = try metricCoordinates(alpha, gram: grams[i], scale: scale)
            ys.append(y)
            let p = try pca(y, components: 2)
            variances += (0..<k).map { Float(p.variance[$0]) }
            let s = p.scores.toArray(), c = p.scores.shape[1]
            for row in 0..<t { layerScores += (0..<2).map { $0 < c ? s[row * c + $0] : 0 } }
        }
        let pooled = try pca(withNoGrad { Tensor.concat(ys, axis: 1) }, components: components)
        let raw = try pca(coefficients.reshaped([t, l * n]), components: components)
        return Result(layerVariance: Tensor(shape: [l, k], data: variances), layerScores: Tensor(shape: [l, t, 2], data: layerScores),
                      pooled: pooled, raw: raw)
    }

    /// Writes the arrays, the CSV and the figures; returns the scatter figures' stems and titles,
    /// and whether each is small multiples (wide).
    @discardableResult
    public static func write(_ r: MixedLoRAPCA.Result, labels: [String: [String]]?, to out: String) throws -> [(stem: String, title: String, wide: Bool)] {
        try AtomicFile.createFolder(out)
        func vector(_ v: [Double]) -> Tensor { Tensor(shape: [v.count], data: v.map(Float.init)) }
        try NPY.write(vector(r.pooled.variance), to: out + "/pooled_variance.npy")
        try NPY.write(r.pooled.scores, to: out + "/pooled_scores.npy")
        try NPY.write(r.layerVariance, to: out + "/layer_variance.npy")
        try NPY.write(r.layerScores, to: out + "/layer_scores.npy")
        try NPY.write(vector(r.raw.variance), to: out + "/raw_variance.npy")
        try NPY.write(r.raw.scores, to: out + "/raw_scores.npy")
        let (pr, rr) = (r.pooled.explainedRatio, r.raw.explainedRatio)
        let rows: [[CSV.Field]] = (0..<max(pr.count, rr.count)).map { i in
            func cell(_ v: [Double], _ i: Int) -> CSV.Field { i < v.count ? .double(v[i]) : .text("") }
            return [.int(i + 1), cell(r.pooled.variance, i), cell(pr, i), cell(r.raw.variance, i), cell(rr, i)]
        }
        try CSV.write(header: ["component", "pooled_variance", "pooled_ratio", "raw_variance", "raw_ratio"], rows: rows, to: out + "/explained_variance.csv")
        try AnalysisFigures.explainedVariance([("mixed LoRAs (Gram metric)", r.pooled), ("raw coefficients", r.raw)]).write(stem: out + "/explained_variance")
        var scatters: [(stem: String, title: String, wide: Bool)] = []
        for (name, result) in [("pooled", r.pooled), ("raw", r.raw)] {
            let title = name == "pooled" ? "Mixed LoRAs (all layers, Gram metric)" : "Raw coefficient embeddings"
            for view in AnalysisFigures.scatters(result.scores, labels: labels ?? [:], title: title) {
                let stem = "scatter_\(name)_\(view.name)"
                try view.figure.write(stem: out + "/" + stem)
                var wide = false
                if case .panels = view.figure.panel { wide = true }
                scatters.append((stem, view.figure.title ?? stem, wide))
            }
        }
        return scatters
    }
}
