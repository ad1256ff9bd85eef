import Analysis
import ArgumentParser
import Formats
import Foundation
import Models
import Pipeline
import Training
import SmallWorld

struct Train: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train LoRWeB adapters (or the single-LoRA baseline) on a Relation252k-style folder or a small world.",
        discussion: """
            The base editor and image encoder stay frozen; only the adapters learn, with the rectified-flow loss over the
            whole 2x2 target grid. Writes RUN/lorweb.json + RUN/adapters.safetensors (release key layout), checkpoints and
            metrics.jsonl in RUN/training. Recipe (paper's where it transfers): AdamW lr 1e-3 constant, betas 0.9/0.99,
            eps 1e-6, weight decay 0.05, clipping 1.0, caption dropout 0.05, bell-weighted loss over uniform times (a base
            that records its own, like the small world's, is trained on its output (x0) and its noise levels, unweighted); batch 8
            and 1500 steps (the paper: batch 6, 10K steps on a GPU).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "A Relation252k-style folder (control/, target/); for a small world only its train split is used.") var data: String
    @Option(help: "Run folder to write.") var out: String
    @Option(help: "Basis size n (default 32).") var loras: Int?
    @Option(help: "Rank of each basis LoRA (default 4; 128 with --single-lora).") var rank: Int?
    @Flag(help: "Train one LoRA (n = 1) through the same code path: the paper's matched-capacity baseline.") var singleLora = false
    @Option(help: "Key width (lora_keys_dim).") var keysDim = 128
    @Option(help: "Attention heads of the coefficient query.") var heads = 1
    @Flag(help: "tanh coefficients instead of softmax (the paper's ablation).") var tanh = false
    @Option(help: "Scale s of the mixed LoRA, y = W x + s sum_i alpha_i (x A_i) B_i (default 1, as the release's trainer forces).",
            transform: finite) var scale: Float = 1
    @Option(help: "Query mode: cat-aa'b (a, a', b embedded apart), ca'-ca+cb, ca'-ca, or caa'b (the grid as one image).") var queryMode = QueryMode.concatenated.rawValue
    @Option(help: "Training steps.") var steps: Int?
    @Option(help: "Batch size.") var batch: Int?
    @Option(help: "Learning rate (the base rate of --lr-schedule).", transform: finite) var lr: Double?
    @Option(help: "constant (the paper's) or cosine (5% warm-up, then a half cosine to 0).") var lrSchedule = LoRWeBTrainOptions.LRScheduleKind.constant.rawValue
    @Option(help: "Weight of a loss on the steps between neighbouring pixels, added to the pixel loss (default 0, the paper's loss alone; needs a base whose loss is in pixels).",
            transform: finite) var edgeLoss: Float?
    @Option(help: "Weight of a loss on the steps across token seams alone, added to the pixel loss (default 0, the paper's loss alone; needs a base whose loss is in pixels).",
            transform: finite) var seamLoss: Float?
    @Option(help: "Training times: base (the base's own noise levels, the release's way) or sampler (only the times the base's Euler sampler evaluates: t = 1 for a one-step base).")
    var timesteps = LoRWeBTrainOptions.TimesKind.base.rawValue
    @Option(help: "How the batch's per-grid errors become the loss: mean (the release's) or log-mse (the mean of their logs, as eval's per-task PSNR weighs them).")
    var loss = FlowMatching.Reduction.mean.rawValue
    @Option(help: "Share of training grids whose caption is dropped (default 0.05, the release's).", transform: finite) var captionDropout: Float?
    @Option(help: "Seed of the adapters' initialisation, data order and noise.") var seed: UInt64 = 0
    @Option(help: "Checkpoint every this many steps.") var checkpointEvery: Int?
    @Option(help: "The frozen base (diffusers transformer folder; default: the shipped small-world base).") var base: String?
    @Option(help: "The frozen image encoder (Hugging Face CLIP folder; default: the shipped small-world encoder).") var encoder: String?
    @OptionGroup var runOptions: RunOptions

    func execute() throws {
        if singleLora, let loras, loras != 1 { throw ValidationError("--single-lora trains one LoRA; drop --loras \(loras)") }
        let mode: QueryMode = try choice(queryMode, of: "--query-mode")
        var o = LoRWeBTrainOptions()
        o.steps = steps ?? o.steps
        o.batch = batch ?? o.batch
        o.learningRate = lr ?? o.learningRate
        o.lrSchedule = try choice(lrSchedule, of: "--lr-schedule")
        o.timesteps = try choice(timesteps, of: "--timesteps")
        o.loss = try choice(loss, of: "--loss")
        o.seed = seed
        o.checkpointEvery = checkpointEvery ?? o.checkpointEvery
        o.captionDropout = captionDropout ?? o.captionDropout
        guard (0...1).contains(o.captionDropout) else { throw ValidationError("--caption-dropout must be in [0, 1]") }
        o.edgeLoss = edgeLoss ?? o.edgeLoss
        guard o.edgeLoss >= 0 else { throw ValidationError("--edge-loss must be >= 0") }
        o.seamLoss = seamLoss ?? o.seamLoss
        guard o.seamLoss >= 0 else { throw ValidationError("--seam-loss must be >= 0") }
        let n = singleLora ? 1 : loras ?? 32, r = rank ?? (singleLora ? 128 : 4)
        guard o.steps >= 1, o.batch >= 1, o.learningRate > 0, o.checkpointEvery >= 1, n >= 1, r >= 1, heads >= 1, keysDim >= 1 else {
            throw ValidationError("--steps, --batch, --checkpoint-every, --loras, --rank, --heads and --keys-dim must be >= 1, --lr > 0")
        }
        guard keysDim % heads == 0 else { throw ValidationError("--keys-dim \(keysDim) must be divisible by --heads \(heads)") }
        guard scale > 0 else { throw ValidationError("--scale must be > 0") }
        try checkOutput(out, inputs: [data, base, encoder], folder: true)
        let lock = try claimRun(out, product: RunCheckpoint.configFile, training: LoRWeBTraining.checkpointFolder, resume: runOptions.resume, force: runOptions.force)
        defer { lock.release() }
        let pairs = try LoRWeBTraining.trainingPairs(data, resolution: LoRWeBModel.defaultResolution)
        let model = try LoRWeBModel.create(basePath: try base ?? ShippedModels.base, encoderPath: try encoder ?? ShippedModels.encoder,
                                           n: n, r: r, keysDim: keysDim, heads: heads, softmax: !tanh, scale: scale, queryMode: mode,
                                           seed: seed, runFolder: out, trainingBatch: o.batch)
        guard (o.edgeLoss == 0 && o.seamLoss == 0) || model.lossSpace == .pixels else {
            throw ValidationError("--edge-loss and --seam-loss need a base whose loss is in pixels; this base's lorweb_base.json trains in \(model.lossSpace.rawValue)")
        }
        let start = Date()
        let summary = try LoRWeBTraining.run(model, pairs: pairs, out: out, options: o, resume: runOptions.resume,
                                             info: ["data": absolutePath(data), "kind": singleLora ? "single-lora" : "lorweb"])
        print(String(format: "train: %d pairs, %d steps (n %d, r %d, %d adapted layers), last loss %.4f, %.0f s -> %@", pairs.indices.count,
                     o.steps, n, r, model.adapters.layers.count, Double(summary.lastLoss ?? .nan), Date().timeIntervalSince(start), out))
    }
}

struct Edit: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the analogy a : a' to b and write b'.",
        discussion: """
            One triplet (--a --a-prime --b --out), or many with --triplets LIST.csv --out-dir DIR (columns a, a_prime, b,
            optional id, out; b' goes to DIR/<out> or DIR/<id>.png: ids must be plain file names and out paths relative,
            staying inside DIR; no output may be an input or repeat, all checked before the first edit). a' and b are resized to a's size and the
            grid is generated at the model's resolution, as the release's inference does; b' is written at b's size.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOption: ModelOption
    @Option(help: "Image a (PNG or JPEG).") var a: String?
    @Option(name: .customLong("a-prime"), help: "Image a'.") var aPrime: String?
    @Option(help: "Image b.") var b: String?
    @Option(help: "Where to write b' (PNG or JPEG by extension).") var out: String?
    @Option(help: "Also write the whole generated grid here.") var grid: String?
    @Option(help: "A CSV of triplets to edit (batch mode).") var triplets: String?
    @Option(help: "Output folder of batch mode.") var outDir: String?
    @Option(help: "Text prompt (default: none).") var prompt = ""
    @OptionGroup var sampling: SamplingOptions

    func execute() throws {
        let single = [a, aPrime, b, out].compactMap { $0 }.count
        if triplets != nil {
            guard single == 0, grid == nil else { throw ValidationError("give either --triplets (with --out-dir) or --a/--a-prime/--b/--out, not both") }
        } else {
            guard single == 4, outDir == nil else { throw ValidationError("give --a, --a-prime, --b and --out (or --triplets LIST.csv --out-dir DIR)") }
        }
        if let out { try checkOutputs([out] + (grid.map { [$0] } ?? []), inputs: InputFiles([a, aPrime, b])) }
        if let triplets {
            let list = try TripletList.read(triplets)
            let folder = outDir ?? ((triplets as NSString).deletingLastPathComponent.isEmpty ? "." : (triplets as NSString).deletingLastPathComponent)
            try checkOutput(folder, inputs: [triplets], folder: true)
            // Another batch writing into the folder would interleave with this one. The lock
            // makes the folder; a list that fails before its first result leaves nothing behind.
            let lock = try FolderLock(folder: folder)
            defer { lock.release() }
            let targets = try batchTargets(list, listPath: triplets, folder: folder)
            let model = try modelOption.load()
            let progress = ProgressLine(label: "edit", unit: "triplets")
            for (i, t) in list.triplets.enumerated() {
                let made = try naming(a: t.a, "\(triplets) row \(i + 1)") {
                    try model.edit([try AnalogyQuery.read(a: t.a, aPrime: t.aPrime, b: t.b)], prompts: [prompt],
                                   steps: sampling.steps(for: model), seed: sampling.seed, guidance: sampling.guidance, firstIndex: i)[0]
                }
                try made.bPrime.write(to: targets[i])
                progress.update(i + 1, list.triplets.count)
            }
            progress.finish()
            print("edit: \(list.triplets.count) triplets -> \(folder)")
        } else {
            // The pictures first: a bad one is reported before the model's seconds of loading.
            let triplet = try AnalogyQuery.read(a: a!, aPrime: aPrime!, b: b!)
            let model = try modelOption.load()
            let made = try naming(a: a!, nil) {
                try model.edit([triplet], prompts: [prompt], steps: sampling.steps(for: model), seed: sampling.seed, guidance: sampling.guidance)[0]
            }
            try made.bPrime.write(to: out!)
            if let grid { try made.grid.write(to: grid) }
            print("edit: b' \(made.bPrime.width)x\(made.bPrime.height) -> \(out!)" + (grid.map { ", grid -> \($0)" } ?? ""))
        }
    }
}

/// Runs one edit, naming its picture a (whose size sets the grid's) and, for a list, the row in
/// a validation failure such as a grid too small for any bucket.
private func naming<T>(a: String, _ row: String?, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ValidationFailure {
        throw ValidationFailure((row.map { $0 + ": " } ?? "") + "a \(a): \(e.description)")
    }
}

struct Eval: LorwebCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate b' for triplets with ground truth and score it (PSNR, SSIM, preservation, edit accuracy).",
        discussion: """
            --data is a small world (with --split) or a CSV of triplets with a b_prime column. Scores are averaged per task,
            then over tasks (the paper's aggregation), overall and per group (the unseen kinds). Preservation is the PSNR
            over pixels the task leaves unchanged (truth b' equals b within 8 levels), edit accuracy the PSNR over the
            pixels it changes. Small-world triplets are prompted with their captions, as the paper prompts its models.
            Writes FILE.json and a figure of sample rows (a | a' | b | b' truth | b' ours) beside it.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOption: ModelOption
    @Option(help: "A small-world folder or a CSV of triplets with b_prime.") var data: String
    @Option(help: "seen or unseen (small world).") var split = "unseen"
    @Option(help: "At most this many triplets per task.") var limitPerTask: Int?
    @Flag(help: "Do not prompt with the captions.") var noPrompts = false
    @Flag(help: "Evaluate the base editor alone (adapters off), the paper's no-adapter row.") var noAdapters = false
    @Option(help: "Where to write the JSON report.") var out: String
    @Option(help: "Sample-rows figure, .png or .svg (default: FILE.png beside the report).") var figure: String?
    @OptionGroup var sampling: SamplingOptions

    func execute() throws {
        guard let s = Split(rawValue: split), s != .train else { throw ValidationError("--split must be seen or unseen") }
        if let limitPerTask, limitPerTask < 1 { throw ValidationError("--limit-per-task must be at least 1") }
        let figurePath = figure ?? (out as NSString).deletingPathExtension + ".png"
        guard ["png", "svg"].contains((figurePath as NSString).pathExtension.lowercased()) else { throw ValidationError("--figure must end in .png or .svg") }
        let modelPath = try modelOption.resolved()
        let labelled = try LabelledTriplets.read(data, split: s.rawValue, ignoringSplitOfLists: true)
        let triplets = try EvalTriplet.from(labelled, path: data, limitPerTask: limitPerTask, prompts: !noPrompts)
        // A list's images are inputs too; a small world's live inside --data.
        let listed = labelled.first?.split == nil ? images(of: TripletList(labelled.map(\.triplet))) : []
        try checkOutputs([out, figurePath], inputs: InputFiles([data, modelPath] + listed))
        let model = try modelOption.load()
        let progress = ProgressLine(label: "eval", unit: "triplets")
        let results = try Evaluation.run(model, triplets: triplets, steps: sampling.steps(for: model), seed: sampling.seed, guidance: sampling.guidance,
                                         adapters: !noAdapters, progress: { progress.update($0, $1) })
        progress.finish()
        var report = Evaluation.report(results, settings: [
            "model": modelPath, "adapters": !noAdapters, "data": data, "split": split, "steps": sampling.steps(for: model),
            "seed": sampling.seed, "guidance": Double(sampling.guidance), "prompts": !noPrompts,
        ])
        report["lorweb_version"] = LorwebVersion.description
        let rows = Array(results.prefix(8))
        if !rows.isEmpty {
            try EditsReport.figure(rows, labels: rows.map { "\($0.triplet.task)" + ($0.triplet.group.map { "\n\($0)" } ?? "") },
                                   title: "\(noAdapters ? "The base editor alone" : "Edits"), first \(rows.count) of \(results.count)").write(to: figurePath)
        }
        try JSONFile.write(object: report, to: out)
        let overall = report["overall"] as! [String: Any]
        func mean(_ k: String, in o: [String: Any] = overall) -> String {
            (o[k] as? [String: Any])?["mean"].map { String(format: "%.2f", $0 as! Double) } ?? "-"
        }
        let identity = overall["identity"] as? [String: Any] ?? [:]
        print("eval: \(results.count) triplets over \(overall["tasks"]!) tasks: PSNR \(mean("psnr")) dB, SSIM \(mean("ssim")), "
              + "preservation \(mean("preservation_psnr")) dB, edit \(mean("edit_psnr")) dB -> \(out), \(figurePath)")
        print("  returning b: PSNR \(mean("psnr", in: identity)) dB, edit \(mean("edit_psnr", in: identity)) dB; gain \(mean("psnr_gain_over_identity")) dB, "
              + String(format: "%.0f%% of tasks gain; seam ratio %.3f (median, 1 = no token grid)",
                       100 * (overall["tasks_gaining_share"] as? Double ?? .nan), overall["seam_ratio_median"] as? Double ?? .nan))
    }
}
