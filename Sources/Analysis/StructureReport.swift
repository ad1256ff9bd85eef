import Figures
import Foundation
import Formats
import Pipeline
import Tensor

// The structure measurements of a report's triplets (`CoefficientStructure`): measured from the
// coefficients and what is known of the triplets, written beside the page as JSON and CSV, and
// shown on it as tables.

public struct StructureReport: Codable {
    public var knn: [CoefficientStructure.KNN]
    public var usage: CoefficientStructure.Usage
    public var compositions: [CoefficientStructure.Composition]
    /// Set once the interpolation strips are made.
    public var interpolation: [CoefficientStructure.Smoothness] = []

    /// Measures (a) to (c) on `coefficients` [T, L, n] of `triplets`: k-NN for every label all
    /// triplets have (task, family, family kind) with 20 shuffles from `seed`; compositions of a
    /// small world against its trained single-family tasks (train or seen split).
    public static func measure(_ coefficients: Tensor, triplets: [LabelledTriplet], seed: UInt64) -> StructureReport {
        let labelSets: [(String, [String?])] = [("task", triplets.map(\.triplet.task)), ("family", triplets.map(\.triplet.family)),
                                                ("family kind", triplets.map(\.kind))]
        var knn: [CoefficientStructure.KNN] = []
        for (name, values) in labelSets {
            let known = values.compactMap { $0 }
            guard known.count == values.count, Set(known).count >= 2 else { continue }
            knn += CoefficientStructure.knn(coefficients, labels: known, name: name, seed: seed)
        }
        var compositions: [CoefficientStructure.Composition] = []
        if triplets.allSatisfy({ $0.steps != nil && $0.split != nil }) {
            let labels = triplets.map { t in
                CoefficientStructure.TaskLabels(task: t.triplet.task ?? t.triplet.id, split: t.split!,
                                                families: (t.triplet.family ?? "").split(separator: "+").map(String.init), steps: t.steps!)
            }
            compositions = CoefficientStructure.compositions(coefficients, labels: labels) { $0.split == "train" || $0.split == "seen" }
        }
        return StructureReport(knn: knn, usage: CoefficientStructure.usage(coefficients), compositions: compositions)
    }

    /// Compositions grouped by split: count, mean distances to parts and to unrelated tasks, and
    /// the share nearer their parts.
    var compositionSummary: [(split: String, count: Int, toParts: Double, toUnrelated: Double, nearer: Double)] {
        Dictionary(grouping: compositions, by: \.split).sorted { $0.key < $1.key }.map { split, rows in
            let n = Double(rows.count)
            return (split, rows.count, rows.map(\.toParts).reduce(0, +) / n, rows.map(\.toUnrelated).reduce(0, +) / n,
                    Double(rows.filter { $0.toParts < $0.toUnrelated }.count) / n)
        }
    }

    /// Writes structure.json (everything), knn.csv, usage.csv (per layer), compositions.csv,
    /// interpolation.csv and the figure usage (PNG + SVG) into `folder`.
    public func write(to folder: String, layers: [String]) throws {
        try AtomicFile.createFolder(folder)
        try JSONFile.write(self, to: folder + "/structure.json")
        try CSV.write(header: ["label", "k", "triplets", "classes", "accuracy", "majority", "uniform", "shuffled_mean", "shuffled_std", "permutations"],
                      rows: knn.map { [.text($0.label), .int($0.k), .int($0.triplets), .int($0.classes), .double($0.accuracy), .double($0.majority),
                                       .double($0.uniform), .double($0.shuffledMean), .double($0.shuffledStd), .int($0.permutations)] },
                      to: folder + "/knn.csv")
        try CSV.write(header: ["layer", "elements_in_use_mean_coefficients", "elements_in_use_per_triplet"],
                      rows: layers.indices.map { [.text(layers[$0]), .double(usage.meanCoefficients[$0]), .double(usage.perTriplet[$0])] },
                      to: folder + "/usage.csv")
        try CSV.write(header: ["task", "split", "parts", "to_parts", "to_unrelated", "unrelated_tasks"],
                      rows: compositions.map { [.text($0.task), .text($0.split), .text($0.parts.joined(separator: " ")), .double($0.toParts),
                                                .double($0.toUnrelated), .int($0.unrelated)] },
                      to: folder + "/compositions.csv")
        try CSV.write(header: ["space", "frame", "t", "psnr_to_first", "psnr_to_last"],
                      rows: interpolation.flatMap { s in s.t.indices.map { [.text(s.space), .int($0), .double(s.t[$0]), .double(s.toFirst[$0]), .double(s.toLast[$0])] } },
                      to: folder + "/interpolation.csv")
        let series = [Series("triplets' mean coefficients", style: .line, y: usage.meanCoefficients),
                      Series("one triplet's (exp of the mean entropy)", style: .line, y: usage.perTriplet),
                      Series("all n = \(usage.n)", style: .line, y: Array(repeating: Double(usage.n), count: layers.count), color: Color(0.6, 0.6, 0.6))]
        try Figure(.plot(Plot(series, xLabel: "layer (block order)", yLabel: "elements in use (exp entropy)")),
                   title: "Basis elements in use per layer", width: 760, height: 420).write(stem: folder + "/usage")
    }

    /// The tables of (a) to (c) and the usage figure, under a heading; `folder` is relative to the page.
    func section(_ page: inout HTMLReport, folder: String) {
        let f2 = { String(format: "%.2f", $0) }, f3 = { String(format: "%.3f", $0) }
        page.heading("Structure of the coefficients", id: "structure")
        page.paragraph("How well a triplet's coefficients (all layers, flattened) predict its labels: leave-one-out k-NN on their cosine, "
                       + "against guessing the commonest label, against 1 / labels, and against the same k-NN after shuffling the labels "
                       + "(mean &plusmn; sd over \(knn.first?.permutations ?? 0) shuffles). Accuracy above the shuffled control means the "
                       + "coefficients carry that label.")
        page.table(["label", "k", "triplets", "labels", "accuracy", "commonest", "1 / labels", "shuffled"], knn.map {
            [$0.label, "\($0.k)", "\($0.triplets)", "\($0.classes)", f3($0.accuracy), f3($0.majority), f3($0.uniform),
             "\(f3($0.shuffledMean)) ± \(f3($0.shuffledStd))"]
        })
        let mean = { (v: [Double]) in v.reduce(0, +) / Double(max(v.count, 1)) }
        page.paragraph("Basis elements in use (exp of the entropy of the coefficients; n = \(usage.n) when all are used alike): "
                       + "\(f2(mean(usage.meanCoefficients))) on average over layers for the triplets' mean coefficients, "
                       + "\(f2(mean(usage.perTriplet))) for one triplet's. When a triplet uses about as many as all triplets together, "
                       + "the triplets do not pick different elements.")
        page.figure(folder + "/usage.png", caption: "Elements in use per layer", width: 640)
        if compositions.isEmpty {
            page.paragraph("Compositions: none of the triplets is a composed task whose parts are trained tasks among the triplets.")
        } else {
            page.paragraph("Composed tasks against their parts: cosine distance of a composition's mean coefficients to each part's "
                           + "(trained single-family tasks), against the mean distance to trained tasks that share no family with it. "
                           + "A composition whose coefficients lie between its parts' is nearer them.")
            page.table(["compositions", "count", "to parts", "to unrelated tasks", "ratio", "nearer their parts"], compositionSummary.map {
                [$0.split, "\($0.count)", String(format: "%.4f", $0.toParts), String(format: "%.4f", $0.toUnrelated), f3($0.toParts / max($0.toUnrelated, 1e-30)),
                 String(format: "%.0f%%", 100 * $0.nearer)]
            })
        }
        page.files([folder + "/structure.json", folder + "/knn.csv", folder + "/usage.csv", folder + "/compositions.csv"])
    }

    /// The smoothness table of the interpolation strips.
    func interpolationTable(_ page: inout HTMLReport, folder: String) {
        guard let first = interpolation.first else { return }
        page.paragraph("How smoothly b' moves along each strip: PSNR (dB) of every frame against the first and the last frame "
                       + "(100 = the same picture). A smooth path falls from the first and rises to the last at every step.")
        page.table(["t"] + interpolation.flatMap { ["\($0.space): to first", "\($0.space): to last"] }, first.t.indices.map { k in
            [String(format: "%.2f", first.t[k])] + interpolation.flatMap { [String(format: "%.1f", $0.toFirst[k]), String(format: "%.1f", $0.toLast[k])] }
        } + [["monotone"] + interpolation.flatMap { [$0.monotone ? "yes" : "no", ""] }])
        page.files([folder + "/interpolation.csv"])
    }
}
