import Foundation
import Formats
import Models
import Pipeline
import Tensor

// `lorweb report`: one HTML page that walks through a learned basis, with its figures and data
// files beside it. The command checks its inputs and outputs; this writes the page.

public enum ModelReport {
    /// What the page covers and how its strips are generated.
    public struct Settings {
        /// The small-world folder or CSV list the triplets come from (named on the page).
        public var data: String
        public var split: String?
        public var limit: Int
        /// Frames of each interpolation strip.
        public var frames: Int
        /// Euler steps of each frame (nil: the base's own).
        public var sampleSteps: Int?
        public var seed: UInt64
        /// Which keys the key graphs join.
        public var edges: KeyGraph.EdgeRule

        public init(data: String, split: String?, limit: Int, frames: Int, sampleSteps: Int?, seed: UInt64, edges: KeyGraph.EdgeRule) {
            (self.data, self.split, self.limit, self.frames, self.sampleSteps, self.seed, self.edges) = (data, split, limit, frames, sampleSteps, seed, edges)
        }
    }

    /// Makes a progress line for a stage ("report: basis", "layers"): its update and finish.
    public typealias Progress = (_ label: String, _ unit: String) -> (update: (Int, Int) -> Void, finish: () -> Void)

    /// Writes OUT/index.html and the subfolders basis/, svd/, keygraphs/, coeffs.*, pca/, interpolation/, structure/, edits/ for the model in the
    /// run folder `path` and `triplets` (at least two); returns the number of adapted layers.
    public static func write(model: LoRWeBModel, path: String, triplets: [LabelledTriplet], settings: Settings, to out: String,
                             progress line: Progress) throws -> Int {
        let (data, split, limit, frames, seed, edges) = (settings.data, settings.split, settings.limit, settings.frames, settings.seed, settings.edges)
        let sampleSteps = settings.sampleSteps ?? model.defaultSteps
        let stream = try AdapterStream(model: path, mixing: false)
        try AtomicFile.createFolder(out)
        var page = HTMLReport(title: "LoRWeB basis report: \((path as NSString).lastPathComponent)")
        let c = model.config.adapter, layerKeys = stream.layers

        // Basis.
        let progress = line("report: basis", "layers")
        let layers = try BasisReport.analyse(stream) { progress.update($0, $1) }
        progress.finish()
        try BasisReport.write(layers, to: out + "/basis")
        try AnalysisFigures.basis(layers, focus: 0, to: out + "/basis")

        // Coefficients of the triplets, PCA.
        let embed = line("report: embedding", "triplets")
        let queries = try CoefficientEmbedding.queries(triplets, encoder: model.encoder, mode: model.config.queryMode) { embed.update($0, $1) }
        embed.finish()
        let coefficients = model.coefficients(queries)
        try CoefficientEmbedding.write(coefficients, triplets: triplets, layers: layerKeys, to: out + "/coeffs.npy")
        let grams = layers.map { Tensor(shape: [c.n, c.n], data: $0.gram) }
        let pca = try MixedLoRAPCA.analyse(coefficients: coefficients, grams: grams, scale: c.scale)
        let scatters = try MixedLoRAPCA.write(pca, labels: try CoefficientEmbedding.index(of: out + "/coeffs.npy"), to: out + "/pca")
        let meanCoefficients = coefficients.mean(axis: 0)                                              // [L, n]

        // Spectra of mixed LoRAs: uniform and the triplets' mean coefficients.
        try AtomicFile.createFolder(out + "/svd")
        for (name, mix) in [("uniform", MixingCoefficients.uniform), ("mean", .array(meanCoefficients))] {
            let values = try BasisReport.mixedSpectra(stream, coefficients: mix)
            try NPY.write(values, to: out + "/svd/\(name).npy")
            try AnalysisFigures.spectra(values, layers: layerKeys, title: "Mixed LoRA spectra, \(name) coefficients").write(stem: out + "/svd/\(name)")
        }

        // Key graphs of a spread of layers and of the mean over layers, nodes sized by mean coefficient mass.
        try AtomicFile.createFolder(out + "/keygraphs")
        var graphs: [(src: String, caption: String)] = []
        let mean = meanCoefficients.toArray()
        for i in AnalysisFigures.spread(layers.count, count: 3) {
            let g = KeyGraph(similarity: Tensor(shape: [c.n, c.n], data: layers[i].keySimilarity),
                             mass: Array(mean[(i * c.n)..<((i + 1) * c.n)]), rule: edges, title: layers[i].key)
            try g.render(to: out + "/keygraphs/layer\(i).svg")
            graphs.append(("keygraphs/layer\(i).svg", "\(layers[i].key): \(g.edgeSummary)"))
        }
        let allSimilarity = layers.map(\.keySimilarity).reduce([Float](repeating: 0, count: c.n * c.n)) { zip($0, $1).map(+) }.map { $0 / Float(layers.count) }
        let massAll = (0..<c.n).map { j in (0..<layers.count).map { mean[$0 * c.n + j] }.reduce(0, +) / Float(layers.count) }
        let meanGraph = KeyGraph(similarity: Tensor(shape: [c.n, c.n], data: allSimilarity), mass: massAll, rule: edges,
                                 title: "mean key similarity over \(layers.count) layers")
        try meanGraph.render(to: out + "/keygraphs/all.svg")
        graphs.append(("keygraphs/all.svg", "Mean over all layers: \(meanGraph.edgeSummary)"))

        // Edits of the triplets with ground truth, scored.
        let editProgress = line("report: edits", "triplets")
        let edits = try EditsReport.run(model, triplets: triplets, path: data, steps: sampleSteps, seed: seed) { editProgress.update($0, $1) }
        editProgress.finish()
        try edits?.write(to: out + "/edits", settings: ["model": path, "data": data, "split": split ?? "all", "steps": sampleSteps, "seed": seed,
                                                        "guidance": 1.0, "prompts": false, "adapters": true], perKind: 3)

        // Interpolation between two analogies on the first one's b: two the model edits well when
        // triplets were scored (a strip between edits it cannot make shows b unchanged throughout),
        // else the first two of different tasks (of different kinds when known).
        let ends: (from: (name: String, a: String, aPrime: String, b: String), to: (name: String, a: String, aPrime: String))
        if let (x, y) = edits?.interpolationEnds() {
            ends = ((x.task, x.a, x.aPrime, x.b), (y.task, y.a, y.aPrime))
        } else {
            let first = triplets[0].triplet
            let second = (triplets.first { $0.kind != nil && $0.kind != triplets[0].kind } ?? triplets.first { $0.triplet.task != first.task } ?? triplets[1]).triplet
            ends = ((first.task ?? first.id, first.a, first.aPrime, first.b), (second.task ?? second.id, second.a, second.aPrime))
        }
        let f = try AnalogyQuery.read(a: ends.from.a, aPrime: ends.from.aPrime, b: ends.from.b)
        let t = try AnalogyQuery.read(a: ends.to.a, aPrime: ends.to.aPrime, b: ends.from.b)
        let (from, to, b) = ((f.a, f.aPrime), (t.a, t.aPrime), f.b)
        try AtomicFile.createFolder(out + "/interpolation")
        var strips: [(Interpolation.Space, Interpolation.Strip)] = []
        for space in Interpolation.Space.allCases {
            let frameProgress = line("report: interpolation (\(space.rawValue))", "frames")
            let strip = try Interpolation.run(model, from: from, to: to, b: b, steps: frames, space: space, sampleSteps: sampleSteps,
                                              seed: seed) { frameProgress.update($0, $1) }
            frameProgress.finish()
            try Interpolation.figure(strip, from: from, to: to, b: b, space: space).write(stem: out + "/interpolation/\(space.rawValue)")
            try NPY.write(strip.coefficients, to: out + "/interpolation/\(space.rawValue).coeffs.npy")
            try Interpolation.writeCSV(strip, layers: layerKeys, to: out + "/interpolation/\(space.rawValue).coeffs.csv")
            strips.append((space, strip))
        }

        // Structure of the coefficients, with the interpolation strips' smoothness.
        var structure = StructureReport.measure(coefficients, triplets: triplets, seed: seed)
        structure.interpolation = strips.map { CoefficientStructure.smoothness($0.1.frames, times: $0.1.times, space: $0.0.rawValue) }
        try structure.write(to: out + "/structure", layers: layerKeys)

        // The page.
        let e = HTMLReport.escape
        page.heading("Model", id: "model")
        page.table(["property", "value"], [
            ["run folder", path], ["base", model.config.basePath ?? "-"], ["encoder", model.config.encoderPath ?? "-"],
            ["adapted layers", "\(layers.count)"], ["basis size n", "\(c.n)"], ["rank r", "\(c.r)"], ["key width", "\(c.keysDim)"],
            ["query", "\(model.config.queryMode.rawValue), \(c.queryDim) values"], ["heads / coefficients", "\(c.heads) / \(c.softmax ? "softmax" : "tanh"), \(c.mixing.rawValue)"],
            ["adapter parameters", "\(model.adapters.parameterCount)"],
        ] + model.config.info.sorted { $0.key < $1.key }.map { [$0.key, $0.value] })

        if let edits { edits.section(&page, folder: "edits", steps: sampleSteps) } else {
            page.heading("Edits and metrics", id: "edits")
            page.paragraph("None of the triplets has ground truth outside the training split, so nothing is scored.")
        }

        page.heading("The basis", id: "basis")
        page.paragraph("Every adapted Linear layer carries n = \(c.n) LoRAs A<sub>i</sub>B<sub>i</sub> of rank \(c.r) and n keys. "
                       + "Keys decide which elements an analogy mixes; their cosine similarities show how distinct the elements are "
                       + "to the attention. The Gram matrix G<sub>ij</sub> = &lt;A<sub>i</sub>B<sub>i</sub>, A<sub>j</sub>B<sub>j</sub>&gt;<sub>F</sub> "
                       + "is the metric of the mixed LoRAs below.")
        page.figures([("basis/key_similarity.png", "Key similarity of \(layers[0].key)"),
                      ("basis/key_similarity_per_layer.png", "Mean off-diagonal key similarity per layer"),
                      ("basis/element_norms.png", "Norms of the basis elements, sorted, for a spread of layers"),
                      ("basis/element_spectra.png", "Singular values of each element of \(layers[0].key)")])
        page.files(["basis/layers.csv", "basis/key_similarity.npy", "basis/gram.npy", "basis/element_spectra.npy", "basis/element_norms.npy"])
        let byDominance = layers.indices.sorted { a, b in
            let (ga, gb) = (layers[a].gram, layers[b].gram)
            func share(_ g: [Float]) -> Float {
                let norms = (0..<c.n).map { g[$0 * c.n + $0].squareRoot() }
                return norms.max()! / max(norms.reduce(0, +), 1e-30)
            }
            return (share(ga), a) > (share(gb), b)
        }
        page.paragraph("Layers where one element dominates most (share of the summed element norms):")
        page.table(["layer", "block", "in", "out", "dominant element", "share"], byDominance.prefix(8).map { i in
            let norms = (0..<c.n).map { layers[i].gram[$0 * c.n + $0].squareRoot() }
            let top = norms.indices.max { norms[$0] < norms[$1] }!
            return [layers[i].key, layers[i].block, "\(layers[i].inFeatures)", "\(layers[i].outFeatures)", "\(top)",
                    String(format: "%.3f", norms[top] / max(norms.reduce(0, +), 1e-30))]
        })

        page.heading("Key graphs", id: "keygraphs")
        page.paragraph("Nodes are basis elements, sized by their mean coefficient over the \(triplets.count) triplets below; "
                       + "edges join \(edges.phrase) (<code>--edges \(edges)</code>); each caption gives the cosines of the edges drawn. "
                       + "Rendered by graphviz (neato); DOT files beside them.")
        for g in graphs { page.figure(g.src, caption: g.caption, width: 420) }

        page.heading("Spectra of mixed LoRAs", id: "spectra")
        page.paragraph("Singular values of &Delta;W = &Sigma;<sub>i</sub> &alpha;<sub>i</sub> A<sub>i</sub>B<sub>i</sub> per layer, "
                       + "from the n r x n r core after one QR per factor (never forming &Delta;W).")
        page.figures([("svd/uniform.png", "Uniform coefficients 1/n"), ("svd/mean.png", "The triplets' mean coefficients")])
        page.files(["svd/uniform.npy", "svd/mean.npy"])

        page.heading("Coefficient embeddings", id: "embeddings")
        let tasks = Set(triplets.compactMap(\.triplet.task)).count
        page.paragraph("\(triplets.count) triplets of \(tasks) tasks from <code>\(e(data))</code>\(split.map { " (split \(e($0)))" } ?? ""), "
                       + "each embedded as its per-layer coefficients [\(layers.count) x \(c.n)]. PCA of their mixed LoRAs uses the "
                       + "Gram metric, so it equals PCA of the vectorised &Delta;Ws of all layers; the raw embedding is the flattened coefficients.")
        // Single panels side by side; small multiples (one panel per kind) at full width.
        page.figures(scatters.filter { !$0.wide }.map { ("pca/\($0.stem).png", $0.title) }
                     + [("pca/explained_variance.png", "Explained variance ratio per component")])
        for s in scatters where s.wide { page.figure("pca/\(s.stem).png", caption: s.title + "; lines join each task's triplets to their mean") }
        let (pr, rr) = (pca.pooled.explainedRatio, pca.raw.explainedRatio)
        page.table(["component", "mixed LoRAs: variance share", "raw coefficients: variance share"], (0..<min(6, pr.count)).map { i in
            ["PC \(i + 1)", String(format: "%.3f", pr[i]), i < rr.count ? String(format: "%.3f", rr[i]) : "-"]
        })
        page.files(["coeffs.npy", "coeffs.csv", "coeffs.layers.txt", "pca/explained_variance.csv", "pca/pooled_scores.npy",
                    "pca/raw_scores.npy", "pca/layer_variance.npy"])
        structure.section(&page, folder: "structure")

        page.heading("Interpolating analogies", id: "interpolation")
        page.paragraph("From <code>\(e(ends.from.name))</code> (a : a') to <code>\(e(ends.to.name))</code> "
                       + "(c : c'), both applied to the first triplet's b\(edits == nil ? "" : " (the best-edited scored triplet, and the best-edited one of another family kind)"), \(frames) frames from the same noise (\(sampleSteps) Euler step\(sampleSteps == 1 ? "" : "s")). "
                       + "Coefficient space: every layer's coefficients move on a straight line. Query space: the query moves and "
                       + "each layer re-applies its keys and softmax.")
        for (space, strip) in strips {
            page.figure("interpolation/\(space.rawValue).png", caption: "\(space.rawValue) space")
            page.paragraph("Effective number of elements mixed (exp of the coefficients' entropy, averaged over layers) per frame: "
                           + CoefficientStructure.effectiveElements(strip.coefficients).map { String(format: "%.2f", $0) }.joined(separator: ", "))
        }
        structure.interpolationTable(&page, folder: "structure")
        page.files(Interpolation.Space.allCases.flatMap { ["interpolation/\($0.rawValue).coeffs.npy", "interpolation/\($0.rawValue).coeffs.csv"] })
        page.paragraph("Made by lorweb \(e(LorwebVersion.description)): <code>lorweb report --data \(e(data))\(split.map { " --split \(e($0))" } ?? "") --limit \(limit) "
                       + "--frames \(frames) --sample-steps \(sampleSteps) --seed \(seed) --edges \(edges)</code>.")
        try page.write(to: out + "/index.html")
        return layers.count
    }
}
