import ArgumentParser
import Formats
import Foundation
import Models
import Pipeline
import SmallWorld

struct PretrainEncoder: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-encoder",
        abstract: "Pretrain the small world's image encoder (CLIPVision architecture) contrastively on its training triplets, then freeze it.",
        discussion: "Writes OUT/encoder (config.json + model.safetensors, Hugging Face CLIP layout). Defaults: 1500 steps, batch 64, lr 1e-3.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var args: PretrainArguments

    func execute() throws {
        let o = try args.options(steps: 1500, batch: 64, lr: 1e-3)
        try checkOutput(args.out, inputs: [args.data], folder: true)
        let stage = EncoderPretraining.folder
        let lock = try claimRun(args.out, product: stage + "/model.safetensors", training: stage + "-training", purpose: stage,
                                resume: args.runOptions.resume, force: args.runOptions.force)
        defer { lock.release() }
        let start = Date()
        let summary = try EncoderPretraining.run(data: try SmallWorldDataset(folder: args.data), out: args.out, options: o, resume: args.runOptions.resume)
        print(String(format: "encoder: %d steps, last loss %.4f, %.0f s -> %@/%@", o.steps, Double(summary.lastLoss ?? .nan),
                     Date().timeIntervalSince(start), args.out, EncoderPretraining.folder))
    }
}

struct PretrainBase: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-base",
        abstract: "Pretrain the small Flux-Kontext editor on text-describable edits (rectified flow, all parameters).",
        discussion: """
            Grids of the text-describable training tasks with their captions: half in Kontext's analogy layout
            [a, a'; b, b] -> [a, a'; b, b'], 40% as four pairs of one task [a, b; c, d] -> [a', b'; c', d'], 10% unchanged
            under an empty prompt. --from continues an existing base (its weights and codec) with a new schedule.
            Writes OUT/base (config.json + diffusion_pytorch_model.safetensors, diffusers layout) and, with --eval N,
            OUT/base/eval.json: mean PSNR at 1, 2, 4, 8 and --sample-steps Euler steps of copying N seen grids (empty
            prompt, target = context) and of its edits on N seen text-describable triplets, N seen triplets of families
            it never trained on and N unseen held-out-family triplets, each beside returning the input unchanged, and for
            the copy task the PSNR of the one-shot x0 estimate from the true x_t at t = 1 ... 0.05. The fewest steps
            whose seen text-describable edits score within 0.1 dB of the best become the base's sampling_steps
            (OUT/base/lorweb_base.json), which edit, eval, interpolate and report use unless told otherwise. Defaults: 1200 steps, batch 8, lr 1e-3.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var args: PretrainArguments
    @Option(help: "Triplets per evaluation group after training (0: no evaluation).") var eval = 48
    @Option(help: "Euler steps when evaluating (besides 1, 2, 4 and 8).") var sampleSteps = BaseEditorSettings.releaseSteps
    @Flag(help: "Do not train: evaluate the base already in OUT/base.") var evalOnly = false
    @Option(help: "Continue from this base folder's weights and codec (a second stage with its own schedule) instead of a fresh model.") var from: String?
    @Option(help: "Image pixels per latent pixel of a fresh base's codec (a token packs 2x2 latent pixels: 4 makes 8x8-pixel 192-d tokens, 2 makes 4x4-pixel 48-d ones).")
    var downsampling = BaseEditorSettings.defaultDownsampling
    @Option(help: "Where the loss measures errors: pixels (the decoded pictures, as PSNR weighs them) or latents (the whitened codec's, every direction alike); the base's adapters are trained the same way.")
    var lossSpace = BaseEditorSettings.LossSpace.pixels.rawValue
    @Option(help: "Where the flow starts for the target: context (the picture being edited plus a little noise, so that at t = 1 every target token carries what it edits) or noise (Flux-Kontext's pure Gaussian noise).")
    var flowSource = BaseEditorSettings.FlowSource.context.rawValue
    @Option(help: "A fresh codec's whitening floors each direction's variance at this share of the largest's: 0.01 gives fine detail near the colours' weight, 1 only rotates and scales the latent pixels.",
            transform: finite) var whiteningFloor = WhitenedSpaceToDepthCodec.defaultFloor

    func execute() throws {
        let o = try args.options(steps: 1200, batch: 8, lr: 1e-3)
        guard whiteningFloor > 0 && whiteningFloor <= 1 else { throw ValidationError("--whitening-floor must be in (0, 1]") }
        if from != nil && whiteningFloor != WhitenedSpaceToDepthCodec.defaultFloor {
            throw ValidationError("--whitening-floor makes a fresh codec; a base continued --from keeps its start's")
        }
        try checkOutput(args.out, inputs: [args.data, from], folder: true)
        guard [1, 2, 4, 8].contains(downsampling) else { throw ValidationError("--downsampling must be 1, 2, 4 or 8") }
        let space: BaseEditorSettings.LossSpace = try choice(lossSpace, of: "--loss-space")
        let source: BaseEditorSettings.FlowSource = try choice(flowSource, of: "--flow-source")
        let stage = BasePretraining.folder
        // --eval-only evaluates the finished base in place: it is what it needs, not something to protect.
        let lock = try claimRun(args.out, product: stage + "/diffusion_pytorch_model.safetensors", training: stage + "-training",
                                purpose: stage, resume: args.runOptions.resume || evalOnly, force: args.runOptions.force)
        defer { lock.release() }
        let data = try SmallWorldDataset(folder: args.data)
        if !evalOnly {
            let start = Date()
            let summary = try BasePretraining.run(data: data, out: args.out, options: o, resume: args.runOptions.resume,
                                                  downsampling: downsampling, from: from, lossSpace: space, flowSource: source,
                                                  whiteningFloor: whiteningFloor)
            print(String(format: "base: %d steps, last loss %.4f, %.0f s -> %@/%@", o.steps, Double(summary.lastLoss ?? .nan),
                         Date().timeIntervalSince(start), args.out, BasePretraining.folder))
        }
        guard eval > 0 else { return }
        let baseFolder = args.out + "/" + BasePretraining.folder
        let model = try FluxTransformer.load(baseFolder)
        let (settings, codec) = try BaseEditorSettings.read(base: baseFolder)
        let seen = data.samples(.seen)
        let describable = Array(seen.filter(\.textDescribable).prefix(eval))
        let groups: [(String, [SampleRecord], Bool)] = [
            ("copy_seen_text_describable", describable, true),
            ("seen_text_describable", describable, false),
            ("seen_not_text_describable", Array(seen.filter { !$0.textDescribable }.prefix(eval)), false),
            ("unseen_held_out_families", Array(data.samples(.unseen, unseenKind: .family).prefix(eval)), false),
        ]
        let stepCounts = Array(Set([1, 2, 4, 8, sampleSteps])).sorted()
        var report: [String: Any] = ["lorweb_version": LorwebVersion.description, "sample_steps": stepCounts, "prediction": settings.prediction.rawValue, "codec": settings.codec.rawValue]
        var editScores: [(steps: Int, psnr: Double)] = []
        for (name, samples, copy) in groups where !samples.isEmpty {
            var row: [String: Any] = ["triplets": samples.count]
            for steps in stepCounts {
                let score = try BasePretraining.evaluate(model, settings: settings, codec: codec, data: data, samples: samples, steps: steps, copy: copy)
                row["psnr_db_\(steps)_steps"] = score.psnr
                if !copy { row["return_input_psnr_db"] = score.inputPSNR }
                if name == "seen_text_describable" { editScores.append((steps, score.psnr)) }
                print(String(format: "  %@, %d steps: PSNR %.2f dB over %d triplets", name, steps, score.psnr, samples.count)
                      + (copy ? "" : String(format: " (returning the input: %.2f dB)", score.inputPSNR)))
            }
            if copy {
                let times: [Float] = [1, 0.8, 0.6, 0.4, 0.2, 0.1, 0.05]
                let profile = try BasePretraining.copyProfile(model, settings: settings, codec: codec, data: data, samples: samples, times: times)
                row["x0_psnr_db_by_t"] = Dictionary(uniqueKeysWithValues: zip(times.map { String(format: "%.2f", $0) }, profile))
                print("  \(name), one-shot x0 from the true x_t: " + zip(times, profile).map { String(format: "t %.2f %.1f dB", $0, $1) }.joined(separator: ", "))
            }
            report[name] = row
        }
        // The fewest steps within 0.1 dB of the best: a few dozen triplets cannot tell closer
        // scores apart, and each step costs a full pass of the transformer.
        if let top = editScores.map(\.psnr).max(), let best = editScores.first(where: { $0.psnr >= top - 0.1 }) {
            var chosen = settings
            chosen.samplingSteps = best.steps
            try chosen.write(codec: codec, to: baseFolder)
            report["sampling_steps"] = best.steps
            print("  sampling_steps \(best.steps) (the fewest within 0.1 dB of the best on seen text-describable edits) -> \(baseFolder)/\(BaseEditorSettings.file)")
        }
        try JSONFile.write(object: report, to: baseFolder + "/eval.json")
    }
}
