import Analysis
import ArgumentParser
import Figures
import Foundation
import Formats
import Models
import Tensor

struct LoRACommand: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora",
        abstract: "Spectra of ordinary LoRAs (PEFT, diffusers, kohya), and for several: similarity and PCA, never forming Delta W.",
        discussion: """
            Each LORA is a .safetensors file or a folder (a PEFT adapter_config.json + adapter_model.safetensors, or
            shards with a *.safetensors.index.json). Layers are named by their diffusers module path (kohya names are
            mapped back). Per layer, Delta W = scale B A with scale = alpha / r (PEFT's rank_pattern/alpha_pattern,
            rsLoRA's alpha / sqrt(r)); its singular values come from thin QR factors of A and B. Writes into --out:
              layers.csv     one row per LoRA and layer: rank, in, out, alpha, scale, Frobenius norm, effective rank
                             (exp of the entropy of the singular values normalised to sum 1), dtype
              spectra.npy    [rows of layers.csv, max rank] singular values, descending, 0 past the row's rank
            With two or more LoRAs, over the layers all of them adapt (the others are named and left out):
              similarity.csv        cosine of Delta W under the Frobenius inner product, per layer and pooled
              similarity.npy        [m, m] pooled; similarity_layers.npy [L, m, m] per common layer (layers.txt)
              pca.csv, pca_variance.csv   kernel PCA of the m vectorised Delta Ws: coordinates, explained variance
              figures similarity and pca (.png, .svg)
            Example: lorweb lora Tests/Fixtures/lora/set/p-peft Tests/Fixtures/lora/set/q.safetensors --out lora-out
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "LoRA files or folders.") var loras: [String]
    @Option(help: "Output folder.") var out: String

    func execute() throws {
        guard !loras.isEmpty else { throw ValidationError("give at least one LoRA file or folder") }
        try checkOutputFolder(out, inputs: loras)
        let read = try loras.map(OrdinaryLoRA.read)
        let names = labels(loras)
        for (lora, name) in zip(read, names) {
            for note in lora.notes { print("note: \(name): \(note)") }
        }
        let progress = ProgressLine(label: "lora", unit: "layers")
        let total = read.reduce(0) { $0 + $1.layers.count }
        var done = 0
        let spectra = try read.map { try LoRACollection.spectra($0) { done += 1; progress.update(done, total) } }
        progress.finish()
        let comparison = read.count > 1 ? try LoRACollection.compare(read) : nil

        try AtomicFile.createFolder(out)
        try writeSpectra(spectra, names: names)
        for (i, layers) in spectra.enumerated() {
            let (lora, name) = (read[i], names[i])
            let ranks = layers.map(\.layer.rank)
            let norm = layers.reduce(0) { $0 + $1.frobenius * $1.frobenius }.squareRoot()
            print(String(format: "%@: %@, %d layers, rank %d-%d, ||Delta W||_F %.4g over all layers", name, lora.layout.rawValue,
                         layers.count, ranks.min() ?? 0, ranks.max() ?? 0, norm))
        }
        guard let comparison else {
            print("-> \(out)/layers.csv, spectra.npy")
            return
        }
        if !comparison.partial.isEmpty {
            print("note: \(comparison.partial.count) layer(s) are not adapted by every LoRA and are left out of the comparison: "
                  + comparison.partial.prefix(5).joined(separator: ", ") + (comparison.partial.count > 5 ? ", ..." : ""))
        }
        try writeComparison(comparison, names: names)
        let ratio = comparison.pca.explainedRatio
        print(String(format: "%d LoRAs over %d common layers; PC1 %.1f%% of the variance -> %@/layers.csv, spectra.npy, similarity.csv/.npy, "
                     + "pca.csv, figures similarity, pca (.png, .svg)", read.count, comparison.layers.count, 100 * (ratio.first ?? 0), out))
    }

    /// Short names for tables and figures: the file name without .safetensors, or the folder's;
    /// a repeated name gets its position appended.
    func labels(_ paths: [String]) -> [String] {
        let base = paths.map { path -> String in
            let name = ((path as NSString).standardizingPath as NSString).lastPathComponent
            return name.hasSuffix(".safetensors") ? String(name.dropLast(".safetensors".count)) : name
        }
        return base.enumerated().map { i, name in base.filter { $0 == name }.count > 1 ? "\(name)#\(i + 1)" : name }
    }

    func writeSpectra(_ spectra: [[LoRALayerSpectrum]], names: [String]) throws {
        let rows = spectra.flatMap { $0 }
        let width = rows.map(\.layer.rank).max() ?? 0
        var values = [Float](repeating: 0, count: rows.count * width)
        for (i, row) in rows.enumerated() { values.replaceSubrange((i * width)..<(i * width + row.singularValues.count), with: row.singularValues) }
        try NPY.write(Tensor(shape: [rows.count, width], data: values), to: out + "/spectra.npy")
        let table: [[CSV.Field]] = zip(names, spectra).flatMap { name, layers in
            layers.map { s in
                let l = s.layer
                return [.text(name), .text(l.name), .int(l.rank), .int(l.inFeatures), .int(l.outFeatures), .double(l.alpha), .float(l.scale),
                        .double(s.frobenius), .double(s.effectiveRank), .text(l.dtype.rawValue)]
            }
        }
        try CSV.write(header: ["lora", "layer", "rank", "in", "out", "alpha", "scale", "frobenius", "effective_rank", "dtype"], rows: table,
                      to: out + "/layers.csv")
    }

    func writeComparison(_ c: LoRACollection.Comparison, names: [String]) throws {
        let m = names.count
        try NPY.write(c.pooledCosines, to: out + "/similarity.npy")
        try NPY.write(c.layerCosines, to: out + "/similarity_layers.npy")
        try AtomicFile.write(Data((c.layers.joined(separator: "\n") + "\n").utf8), to: out + "/layers.txt")
        let (pooled, perLayer) = (c.pooledCosines.toArray(), c.layerCosines.toArray())
        var rows: [[CSV.Field]] = []
        for i in 0..<m { for j in (i + 1)..<m {
            rows.append([.text(names[i]), .text(names[j]), .text("pooled"), .float(pooled[i * m + j])])
            for (l, layer) in c.layers.enumerated() { rows.append([.text(names[i]), .text(names[j]), .text(layer), .float(perLayer[(l * m + i) * m + j])]) }
        } }
        try CSV.write(header: ["lora_a", "lora_b", "layer", "cosine"], rows: rows, to: out + "/similarity.csv")

        let scores = c.pca.scores.toArray(), k = c.pca.scores.shape[1]
        try CSV.write(header: ["lora"] + (0..<k).map { "pc\($0 + 1)" },
                      rows: names.enumerated().map { i, name in [.text(name)] + (0..<k).map { .float(scores[i * k + $0]) } }, to: out + "/pca.csv")
        let ratio = c.pca.explainedRatio
        try CSV.write(header: ["component", "variance", "ratio"],
                      rows: c.pca.variance.indices.map { [.int($0 + 1), .double(c.pca.variance[$0]), .double(ratio[$0])] }, to: out + "/pca_variance.csv")

        let heat = Figure(.heatmap(Heatmap(pooled.map(Double.init), rows: m, columns: m, rowLabels: names, columnLabels: names,
                                           colorbarLabel: "cosine of Delta W (Frobenius)", range: -1...1, scale: .diverging)),
                          title: "LoRA similarity over \(c.layers.count) common layers", width: 560, height: 500)
        try heat.write(stem: out + "/similarity")
        try AnalysisFigures.scatter(c.pca.scores, labels: names, heading: "LoRA", title: "PCA of the LoRAs' Delta W (\(c.layers.count) layers)")
            .write(stem: out + "/pca")
    }
}
