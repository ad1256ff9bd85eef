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

    /// The scatter views of scores [T, >= 2] (PC 1 against PC 2) that `labels` support, by name,
    /// labels by the column names of a coefficient index (task, family, kind, split). A small
    /// world (kinds known) gives "kind", coloured by family kind (compositions as one colour) with
    /// the split as marker shape, and "family", one panel per kind coloured by family (the
    /// compositions' panel by their pair of kinds) with lines joining each task's triplets to
    /// their mean. A list gives "family" or "task" in one panel, or "all" without labels.
    public static func scatters(_ scores: Tensor, labels: [String: [String]], title: String) -> [(name: String, figure: Figure)] {
        let xy = points(scores), t = xy.count
        func column(_ name: String) -> [String]? {
            guard let v = labels[name], v.count == t, v.contains(where: { !$0.isEmpty }) else { return nil }
            return v
        }
        let all = Array(0..<t)
        guard let kind = column("kind") else {
            for name in ["family", "task"] {
                guard let colour = column(name) else { continue }
                let join = name == "family" ? column("task") : nil
                let plot = scatterPanel(xy, rows: all, colour: colour, heading: name, join: join)
                return [(name, Figure(.plot(plot), title: "\(title) by \(name)", width: 760, height: 500))]
            }
            return [("all", scatter(scores, labels: Array(repeating: "triplets", count: t), heading: "", title: title))]
        }
        let kindOrComposition = kind.map { $0.contains("+") ? "composition" : $0 }
        let splits = column("split").map { (labels: $0, heading: "split") }
        var figures = [("kind", Figure(.plot(scatterPanel(xy, rows: all, colour: kindOrComposition, heading: "family kind", marker: splits)),
                                       title: "\(title) by family kind", width: 760, height: 500))]
        var order: [String] = []
        for k in kindOrComposition where !order.contains(k) { order.append(k) }
        let family = column("family") ?? kind, task = column("task")
        let panels = order.map { k -> (title: String, plot: Plot) in
            let rows = all.filter { kindOrComposition[$0] == k }
            let composed = k == "composition"
            return ("\(composed ? "compositions" : k) (\(rows.count) triplets)",
                    scatterPanel(xy, rows: rows, colour: composed ? kind : family, heading: composed ? "kinds composed" : "family", join: task))
        }
        figures.append(("family", Figure(.panels(panels, columns: 2), title: "\(title) by family, one panel per kind",
                                         width: 1180, height: 40 + 390 * ((panels.count + 1) / 2))))
        return figures
    }

    /// Scores [T, >= 2] in one panel coloured by `labels`, the legend headed `heading`.
    public static func scatter(_ scores: Tensor, labels: [String], heading: String, title: String) -> Figure {
        let xy = points(scores)
        return Figure(.plot(scatterPanel(xy, rows: Array(xy.indices), colour: labels, heading: heading)), title: title, width: 720, height: 480)
    }

    /// (PC 1, PC 2) of every row of scores [T, >= 1] (PC 2 is 0 when there is one column).
    static func points(_ scores: Tensor) -> [(x: Double, y: Double)] {
        let c = scores.shape[1], s = scores.toArray()
        return (0..<scores.shape[0]).map { (x: Double(s[$0 * c]), y: c > 1 ? Double(s[$0 * c + 1]) : 0) }
    }

    /// One scatter panel: the points `rows` coloured by their `colour` label (`CategoryStyle`:
    /// 12 colours, then other marker shapes; labels beyond its capacity grey, and the legend says
    /// how many), the other points as faint grey context. With `marker`, the shape shows that
    /// label instead (then only the 12 colours distinguish `colour`); with `join`, thin lines run
    /// from each point to the mean of its `join` group.
    static func scatterPanel(_ xy: [(x: Double, y: Double)], rows: [Int], colour: [String], heading: String,
                             marker: (labels: [String], heading: String)? = nil, join: [String]? = nil) -> Plot {
        func distinct(_ labels: [String], _ rows: [Int]) -> [String] {
            var seen = Set<String>(), order: [String] = []
            for i in rows where seen.insert(labels[i]).inserted { order.append(labels[i]) }
            return order
        }
        func named(_ label: String) -> String { label.isEmpty ? "(none)" : label }
        let inPanel = Set(rows), others = xy.indices.filter { !inPanel.contains($0) }
        var series: [Series] = []
        if !others.isEmpty {
            series.append(Series("", style: .scatter, x: others.map { xy[$0].x }, y: others.map { xy[$0].y }, color: CategoryStyle.context, faint: true))
        }
        let colours = distinct(colour, rows)
        let capacity = marker == nil ? CategoryStyle.capacity : CategoryStyle.colors.count
        func style(_ label: String) -> (color: Color, marker: Marker) {
            guard let j = colours.firstIndex(of: label), j < capacity, let s = CategoryStyle.style(j) else { return (CategoryStyle.context, .circle) }
            return s
        }
        var joined = false
        if let join {
            for group in distinct(join, rows) {
                let members = rows.filter { join[$0] == group }
                guard members.count > 1 else { continue }
                joined = true
                let mean = (x: members.map { xy[$0].x }.reduce(0, +) / Double(members.count), y: members.map { xy[$0].y }.reduce(0, +) / Double(members.count))
                let star = members.flatMap { [mean, xy[$0]] } + [mean]
                series.append(Series("", style: .line, x: star.map(\.x), y: star.map(\.y), color: style(colour[members[0]]).color, faint: true))
            }
        }
        let shapes = marker.map { distinct($0.labels, rows) } ?? []
        for label in colours {
            let members = rows.filter { colour[$0] == label }
            if let marker {
                for (k, shape) in shapes.enumerated() {
                    let group = members.filter { marker.labels[$0] == shape }
                    if !group.isEmpty {
                        series.append(Series("", style: .scatter, x: group.map { xy[$0].x }, y: group.map { xy[$0].y }, color: style(label).color,
                                             marker: Marker.allCases[min(k, Marker.allCases.count - 1)]))
                    }
                }
            } else {
                series.append(Series("", style: .scatter, x: members.map { xy[$0].x }, y: members.map { xy[$0].y }, color: style(label).color,
                                     marker: style(label).marker))
            }
        }
        var legend: [LegendItem] = heading.isEmpty ? [] : [.heading(heading)]
        legend += colours.prefix(capacity).map { .entry(named($0), color: style($0).color, style: .scatter, marker: style($0).marker) }
        if colours.count > capacity { legend.append(.note("+ \(colours.count - capacity) more in grey, not told apart")) }
        if let marker {
            legend.append(.heading(marker.heading))
            legend += shapes.prefix(Marker.allCases.count).enumerated().map { k, label in
                .entry(named(label), color: Color(0.3, 0.3, 0.3), style: .scatter, marker: Marker.allCases[k])
            }
            if shapes.count > Marker.allCases.count { legend.append(.note("the last shape also stands for \(shapes.count - Marker.allCases.count) more")) }
        }
        if joined { legend.append(.note("lines join each task's triplets to their mean")) }
        if !others.isEmpty { legend.append(.note("grey: the other \(others.count) triplets")) }
        return Plot(series, xLabel: "PC 1", yLabel: "PC 2", legendItems: legend)
    }

    /// Explained-variance ratios of several PCAs as lines over the component index.
    public static func explainedVariance(_ results: [(String, PCAResult)]) -> Figure {
        // Centred rows span at most T - 1 dimensions: a last component beyond that is rounding noise.
        let series = results.map { name, r in
            let ratio = Array(r.explainedRatio.prefix(max(1, r.scores.shape[0] - 1)))
            return Series(name, style: .line, x: ratio.indices.map { Double($0 + 1) }, y: ratio)
        }
        return Figure(.plot(Plot(series, xLabel: "principal component", yLabel: "explained variance ratio", logY: true)),
                      title: "Explained variance", width: 640, height: 420)
    }
}
