import Foundation
import Formats
import Models
import Tensor

// Spectra, similarity and PCA of ordinary LoRAs without forming any Delta W = s B A [out, in].
// One layer's spectrum comes from the thin factors of `LayerFactors` (a basis of one element),
// and Frobenius inner products from r x r products alone:
//
//   <s1 B1 A1, s2 B2 A2>_F = s1 s2 trace(A1^T B1^T B2 A2) = s1 s2 sum_ij (A1 A2^T)_ij (B1^T B2)_ij
//
// which costs r1 r2 (in + out) instead of in x out.

/// One layer of one LoRA.
public struct LoRALayerSpectrum {
    public let layer: LoRALayer
    /// Singular values of s B A, descending [r].
    public let singularValues: [Float]

    public var frobenius: Double { singularValues.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// exp of the Shannon entropy of the singular values normalised to sum 1 (Roy & Vetterli 2007):
    /// r for a flat spectrum, 1 for a single direction, 0 for a zero Delta W.
    public var effectiveRank: Double {
        singularValues.contains { $0 > 0 } ? Foundation.exp(entropy(ofShares: singularValues)) : 0
    }
}

public enum LoRACollection {
    /// Singular values of every layer of `lora`.
    public static func spectra(_ lora: OrdinaryLoRA, progress: () -> Void = {}) throws -> [LoRALayerSpectrum] {
        try lora.layers.map { layer in
            let (r, inF, outF) = (layer.rank, layer.inFeatures, layer.outFeatures)
            guard r <= min(inF, outF) else {
                throw FormatError(lora.path, "\(layer.name): rank \(r) exceeds the layer's size \(outF)x\(inF)")
            }
            let factors = try withNoGrad {
                try LayerFactors(loraA: layer.a.transposed().reshaped([1, inF, r]), loraB: layer.b.transposed().reshaped([1, r, outF]),
                                 scale: layer.scale)
            }
            let values = try factors.singularValues([1]).toArray()
            progress()
            return LoRALayerSpectrum(layer: layer, singularValues: values)
        }
    }

    /// <Delta W_x, Delta W_y>_F of two LoRAs' versions of one layer.
    public static func innerProduct(_ x: LoRALayer, _ y: LoRALayer) -> Double {
        let (aa, bb) = withNoGrad { (x.a.matmul(y.a, transposeB: true), x.b.matmul(y.b, transposeA: true)) }   // [r1, r2] each
        let (p, q) = (aa.data, bb.data)
        var sum = 0.0
        for i in 0..<aa.count { sum += Double(p[i]) * Double(q[i]) }
        return Double(x.scale) * Double(y.scale) * sum
    }

    public struct Comparison {
        /// Layers every LoRA adapts, sorted; the comparison covers these only.
        public let layers: [String]
        /// Layers only some LoRAs adapt.
        public let partial: [String]
        /// Per common layer cosines [L, m, m], then pooled over those layers [m, m].
        public let layerCosines: Tensor, pooledCosines: Tensor
        /// PCA of the m vectorised Delta Ws (common layers side by side).
        public let pca: PCAResult
    }

    /// Similarity and PCA of m >= 2 LoRAs over the layers they all adapt. Throws when a layer's
    /// shapes differ between LoRAs, or when no layer is common.
    public static func compare(_ loras: [OrdinaryLoRA], components: Int = 10) throws -> Comparison {
        let m = loras.count
        precondition(m >= 2, "compare: \(m) LoRAs")
        let byName = loras.map { Dictionary(uniqueKeysWithValues: $0.layers.map { ($0.name, $0) }) }
        let all = Set(byName.flatMap(\.keys))
        let common = all.filter { name in byName.allSatisfy { $0[name] != nil } }.sorted()
        guard !common.isEmpty else {
            throw FormatError(loras[1].path, "adapts no layer that \(loras[0].path) adapts; similarity needs common layers")
        }
        var cosines = [Float](repeating: 0, count: common.count * m * m)
        var pooled = [Double](repeating: 0, count: m * m)
        for (l, name) in common.enumerated() {
            let layers = byName.map { $0[name]! }
            for j in 1..<m where layers[j].a.shape[1] != layers[0].a.shape[1] || layers[j].b.shape[0] != layers[0].b.shape[0] {
                throw FormatError(loras[j].path, "layer \(name) is \(layers[j].outFeatures)x\(layers[j].inFeatures) (out x in) "
                                  + "but \(layers[0].outFeatures)x\(layers[0].inFeatures) in \(loras[0].path)")
            }
            var gram = [Double](repeating: 0, count: m * m)
            for i in 0..<m { for j in i..<m {
                gram[i * m + j] = innerProduct(layers[i], layers[j])
                gram[j * m + i] = gram[i * m + j]
            } }
            for k in 0..<(m * m) { pooled[k] += gram[k] }
            cosines.replaceSubrange((l * m * m)..<((l + 1) * m * m), with: cosine(gram, m).map(Float.init))
        }
        // Kernel PCA: the rows of the symmetric square root of the Gram matrix have exactly its inner products.
        let kernel = Tensor(shape: [m, m], data: pooled.map(Float.init))
        let identity = Tensor(shape: [m, m], data: (0..<(m * m)).map { $0 % (m + 1) == 0 ? 1 : 0 })
        let coordinates = try MixedLoRAPCA.metricCoordinates(identity, gram: kernel, scale: 1)
        return Comparison(layers: common, partial: all.subtracting(common).sorted(),
                          layerCosines: Tensor(shape: [common.count, m, m], data: cosines),
                          pooledCosines: Tensor(shape: [m, m], data: cosine(pooled, m).map(Float.init)),
                          pca: try MixedLoRAPCA.pca(coordinates, components: min(components, m - 1)))
    }

    /// Cosines from a Gram matrix [m, m]; 0 where a Delta W is zero.
    static func cosine(_ gram: [Double], _ m: Int) -> [Double] {
        (0..<(m * m)).map { k in
            let norms = (gram[(k / m) * (m + 1)] * gram[(k % m) * (m + 1)]).squareRoot()
            return norms > 0 ? gram[k] / norms : 0
        }
    }
}
