import ArgumentParser
import Foundation
import Pipeline
import SmallWorld

struct Synth: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate the small world: analogy triplets with ground truth in the Relation252k layout, plus manifest.json.",
        discussion: """
            Writes control/NAME.png (strip [a | a' | b]), target/NAME.png (b'), target/NAME.txt (caption), \
            masks/NAME.png (pixels where b' differs from b), images/NAME_{a,ap,b,bp}.png and manifest.json \
            (families, tasks, splits train / seen / unseen, and every sample). Same options, same bytes.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Output folder (created; its parent must exist).")
    var out: String

    @Option(help: "Seed for scenes and for the compositions in each split.")
    var seed: UInt64 = 0

    @Option(help: "Picture side in pixels: a multiple of 8 from 16 to 256.")
    var size = 32

    @Option(help: "Training triplets.")
    var train = 3000

    @Option(help: "Triplets in each evaluation split (seen and unseen).")
    var eval = 300

    @Flag(help: "Replace the small world in a non-empty folder (other files in it are kept).")
    var force = false

    var options: SmallWorldSynth.Options {
        var options = SmallWorldSynth.Options()
        options.seed = seed
        options.size = size
        options.train = train
        options.evalPerSplit = eval
        options.force = force
        return options
    }

    /// Out-of-range numbers are usage errors (exit status 2), found before any work.
    func validate() throws {
        do { try options.validate() } catch { throw ValidationError("\(error)") }
    }

    func execute() throws {
        try checkOutput(out, inputs: [], folder: true)
        let progress = ProgressLine(label: "synth", unit: "triplets")
        let manifest = try SmallWorldSynth.generate(options, into: out) { done, total in progress.update(done, total) }
        progress.finish()
        let seconds = progress.elapsed
        print("\(out): \(manifest.samples.count) triplets (\(train) train, \(eval) seen, \(eval) unseen) at \(size)x\(size) "
              + "from \(manifest.tasks.count) tasks over \(manifest.families.count) families in \(String(format: "%.1f", seconds)) s")
    }
}
