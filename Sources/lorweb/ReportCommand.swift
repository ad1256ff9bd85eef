import Analysis
import ArgumentParser
import Figures
import Foundation
import Formats
import Models
import Pipeline
import Tensor
import SmallWorld

struct Report: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "One HTML page that walks through a learned basis, with its figures and data files beside it.",
        discussion: """
            For a run folder and a small world (or a CSV of triplets): the model's summary; edits of the triplets with ground
            truth from the analogy alone, a few per family kind, and their eval metrics beside returning b; the basis (key
            similarities, element norms and spectra, key graphs of a few layers and of the mean over layers); spectra of the
            mixed LoRAs (uniform and mean coefficients); coefficient embeddings of --limit triplets with PCA scatter plots by
            family kind and family; structure measurements with their controls (k-NN accuracy of task, family and kind
            against chance and shuffled labels, elements in use per layer, compositions against their parts); interpolation
            filmstrips in coefficient and query space between the two analogies of different kinds that the model edits best
            (by gain over returning b; without ground truth, the first two of different kinds), with their smoothness.
            Writes OUT/index.html and the subfolders basis/, svd/, keygraphs/, coeffs.*, pca/, structure/, interpolation/, edits/.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOption: ModelOption
    @Option(help: "A small-world folder or a CSV list of triplets.") var data: String
    @Option(help: "Output folder (index.html and everything it shows).") var out: String
    @Option(help: "Triplets to embed, round-robin over tasks.") var limit = 600
    @Option(help: "Splits of a small world to take triplets from, comma-separated (default: seen,unseen, the held-out triplets).") var split: String?
    @Option(help: "Frames of each interpolation strip.") var frames = 6
    @Option(help: "Euler steps of each generated frame (default: what the base recommends, else 28).") var sampleSteps: Int?
    @Option(help: "Seed of the interpolation noise.") var seed: UInt64 = 0
    @Option(help: edgeRuleHelp, transform: edgeRule) var edges: KeyGraph.EdgeRule = .top(3)

    func execute() throws {
        guard limit >= 2, frames >= 2, (sampleSteps ?? 1) >= 1 else { throw ValidationError("--limit and --frames must be at least 2, --sample-steps at least 1") }
        let started = Date()
        let path = try modelOption.resolved()
        var isFolder: ObjCBool = false
        let split = self.split ?? (FileManager.default.fileExists(atPath: data, isDirectory: &isFolder) && isFolder.boolValue ? "seen,unseen" : nil)
        let triplets = try CoefficientEmbedding.triplets(data, split: split, limit: limit)
        try checkOutputFolder(out, inputs: [data, path] + images(of: TripletList(triplets.map(\.triplet))))
        let model = try modelOption.load()
        let settings = ModelReport.Settings(data: data, split: split, limit: limit, frames: frames, sampleSteps: sampleSteps, seed: seed,
                                            edges: edges)
        let layers = try ModelReport.write(model: model, path: path, triplets: triplets, settings: settings, to: out) { label, unit in
            let line = ProgressLine(label: label, unit: unit)
            return (line.update, line.finish)
        }
        print(String(format: "report: %d layers, %d triplets, %d frames x 2 strips in %.0f s -> %@/index.html", layers, triplets.count,
                     frames, Date().timeIntervalSince(started), out))
    }
}
