import Figures
import Foundation
import Formats
import Tensor

// The figures the analysis commands write beside their data (each as .png and .svg).

public enum AnalysisFigures {
    /// Up to `count` layer indices spread evenly over `total`, first and last included.
    public static func spread(_ total: Int, count: Int = 6) -> [Int] {
        guard total > count else { return Array(0..<total) }
        return (0..<count).map { $0 * (total - 1) / (count - 1) }
    }

    /// A short layer name for legends: `transformer_blocks.3.attn.to_q` -> `d3 attn.to_q`.
    public static func shortName(_ key: String) -> String {
        let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3 else { return key }
        return (parts[0] == "single_transformer_blocks" ? "s" : "d") + parts[1] + " " + parts[2]
    }

    /// `lorweb basis`: key_similarity (heatmap of layer `focus`), key_similarity_per_layer (bars),
    /// element_norms (sorted norms of a spread of layers) and element_spectra (layer `focus`).
    /// Returns the figure stems written.
    @discardableResult
    public static func basis(_ layers: [BasisLayer], focus: Int, to folder: String) throws -> [String] {
        let layer = layers[focus]
        let n = layer.gram.count == 0 ? 0 : Int(Double(layer.gram.count).squareRoot()), r = layer.spectra.count / max(n, 1)
        let labels = (0..<n).map(String.init)
        let heat = Figure(.heatmap(Heatmap(layer.keySimilarity.map(Double.init), rows: n, columns: n, rowLabels: labels, columnLabels: labels,
                                           xLabel: "basis element", yLabel: "basis element", colorbarLabel: "cosine similarity of keys",
                                           range: -1...1, scale: .diverging)),
                          title: "Key similarity, \(layer.key)", width: 560, height: 500)
        try heat.write(stem: folder + "/key_similarity")

        let means: [Double] = layers.map { l in
            let off = (0..<n).flatMap { a in (0..<n).filter { $0 != a }.map { Double(l.keySimilarity[a * n + $0]) } }
            return off.reduce(0, +) / Double(max(off.count, 1))
        }
        let bar = Figure(.plot(Plot([Series("mean key similarity", style: .bar, y: means)], xLabel: "layer (block order)",
                                    yLabel: "mean off-diagonal cosine", xCategories: layers.count <= 40 ? layers.map { shortName($0.key) } : nil,
                                    legend: false)),
                         title: "Mean key similarity per layer", width: 760, height: 420)
        try bar.write(stem: folder + "/key_similarity_per_layer")

        let norms = spread(layers.count).map { i -> Series in
            let l = layers[i]
            let values = (0..<n).map { Double(l.gram[$0 * n + $0]).squareRoot() }.sorted(by: >)
            return Series(shortName(l.key), style: .line, x: (1...max(n, 1)).map(Double.init), y: values)
        }
        try Figure(.plot(Plot(norms, xLabel: "basis element, by norm", yLabel: "||A_i B_i||_F", logY: true)),
                   title: "Basis element norms", width: 680, height: 420).write(stem: folder + "/element_norms")

        let spectra = (0..<n).map { i in
            Series("", style: .line, x: (1...max(r, 1)).map(Double.init), y: (0..<r).map { Double(layer.spectra[i * r + $0]) },
                   color: Color.category(i))
        }
        try Figure(.plot(Plot(spectra, xLabel: "singular value index", yLabel: "singular value of A_i B_i", logY: true, legend: false)),
                   title: "Element spectra, \(layer.key) (one line per element)", width: 640, height: 420).write(stem: folder + "/element_spectra")
        return ["key_similarity", "key_similarity_per_layer", "element_norms", "element_spectra"]
    }

    /// Singular values [L, k] of mixed LoRAs: one line per layer of a spread.
    public static func spectra(_ values: Tensor, layers: [String], title: String) -> Figure {
        let k = values.shape[1], data = values.toArray()
        let series = spread(layers.count).map { i in
            Series(shortName(layers[i]), style: .line, x: (1...k).map(Double.init), y: (0..<k).map { Double(data[i * k + $0]) })
        }
        return Figure(.plot(Plot(series, xLabel: "singular value index", yLabel: "singular value of Delta W", logY: true)),
                      title: title, width: 680, height: 440)
    }

    /// Scores [T, >= 2] as a scatter coloured by `labels` (one series per distinct label, in
    /// order of first appearance).
    public static func scatter(_ scores: Tensor, labels: [String], title: String, xLabel: String = "PC 1", yLabel: String = "PC 2") -> Figure {
        let c = scores.shape[1], s = scores.toArray()
        var order: [String] = [], rows: [String: [Int]] = [:]
        for (i, l) in labels.enumerated() {
            if rows[l] == nil { order.append(l) }
            rows[l, default: []].append(i)
        }
        let series = order.enumerated().map { j, label in
            Series(label.isEmpty ? "(none)" : label, style: .scatter, x: rows[label]!.map { Double(s[$0 * c]) },
                   y: rows[label]!.map { c > 1 ? Double(s[$0 * c + 1]) : 0 }, color: Color.category(j))
        }
        return Figure(.plot(Plot(series, xLabel: xLabel, yLabel: yLabel)), title: title, width: 720, height: 480)
    }

    /// Explained-variance ratios of several PCAs as lines over the component index.
    public static func explainedVariance(_ results: [(String, PCAResult)]) -> Figure {
        let series = results.map { name, r in Series(name, style: .line, x: r.explainedRatio.indices.map { Double($0 + 1) }, y: r.explainedRatio) }
        return Figure(.plot(Plot(series, xLabel: "principal component", yLabel: "explained variance ratio", logY: true)),
                      title: "Explained variance", width: 640, height: 420)
    }
}
