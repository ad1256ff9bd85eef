import ArgumentParser
import Formats
import Foundation
import Models
import Pipeline

/// Options of both pretraining stages.
struct PretrainArguments: ParsableArguments {
    @Option(help: "A folder written by `lorweb synth`.") var data: String
    @Option(help: "Run folder (checkpoints, metrics.jsonl, the trained weights).") var out: String
    @Option(help: "Training steps.") var steps: Int?
    @Option(help: "Batch size.") var batch: Int?
    @Option(help: "Peak learning rate (warm-up, then cosine to 10%).") var lr: Double?
    @Option(help: "Seed of initialisation, data order and noise.") var seed: UInt64 = 0
    @Option(help: "Checkpoint every this many steps.") var checkpointEvery = 250
    @Flag(help: "Continue from the newest valid checkpoint in --out.") var resume = false

    func options(steps defaultSteps: Int, batch defaultBatch: Int, lr defaultLR: Double) throws -> PretrainOptions {
        let o = PretrainOptions(steps: steps ?? defaultSteps, batch: batch ?? defaultBatch, learningRate: lr ?? defaultLR,
                                seed: seed, checkpointEvery: checkpointEvery)
        guard o.steps >= 1, o.batch >= 2, o.learningRate > 0, o.checkpointEvery >= 1 else {
            throw ValidationError("--steps and --checkpoint-every must be >= 1, --batch >= 2, --lr > 0")
        }
        return o
    }
}

struct PretrainEncoder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-encoder",
        abstract: "Pretrain the small world's image encoder (CLIPVision architecture) by SimCLR on its pictures, then freeze it.",
        discussion: "Writes OUT/encoder (config.json + model.safetensors, Hugging Face CLIP layout). Defaults: 1500 steps, batch 64, lr 1e-3.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var args: PretrainArguments

    func run() throws {
        try global.apply()
        try reportingErrors {
            let o = try args.options(steps: 1500, batch: 64, lr: 1e-3)
            try checkOutput(args.out, inputs: [args.data])
            let start = Date()
            let summary = try EncoderPretraining.run(data: try SmallWorldDataset(folder: args.data), out: args.out, options: o, resume: args.resume)
            print(String(format: "encoder: %d steps, last loss %.4f, %.0f s -> %@/%@", o.steps, Double(summary.lastLoss ?? .nan),
                         Date().timeIntervalSince(start), args.out, EncoderPretraining.folder))
        }
    }
}

struct PretrainBase: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-base",
        abstract: "Pretrain the small Flux-Kontext editor on text-describable edits (rectified flow, all parameters).",
        discussion: """
            Writes OUT/base (config.json + diffusion_pytorch_model.safetensors, diffusers layout) and, with --eval N,
            OUT/base/eval.json: mean PSNR of its edits on N seen text-describable triplets, N seen triplets of
            families it never trained on, and N unseen held-out-family triplets. Defaults: 1300 steps, batch 16, lr 1e-3.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var args: PretrainArguments
    @Option(help: "Triplets per evaluation group after training (0: no evaluation).") var eval = 48
    @Option(help: "Euler steps when evaluating.") var sampleSteps = 20

    func run() throws {
        try global.apply()
        try reportingErrors {
            let o = try args.options(steps: 1300, batch: 16, lr: 1e-3)
            try checkOutput(args.out, inputs: [args.data])
            let data = try SmallWorldDataset(folder: args.data)
            let start = Date()
            let summary = try BasePretraining.run(data: data, out: args.out, options: o, resume: args.resume)
            print(String(format: "base: %d steps, last loss %.4f, %.0f s -> %@/%@", o.steps, Double(summary.lastLoss ?? .nan),
                         Date().timeIntervalSince(start), args.out, BasePretraining.folder))
            guard eval > 0 else { return }
            let model = try FluxTransformer.load(args.out + "/" + BasePretraining.folder)
            let seen = data.samples(.seen)
            let groups: [(String, [SampleRecord])] = [
                ("seen_text_describable", Array(seen.filter(\.textDescribable).prefix(eval))),
                ("seen_not_text_describable", Array(seen.filter { !$0.textDescribable }.prefix(eval))),
                ("unseen_held_out_families", Array(data.samples(.unseen, unseenKind: .family).prefix(eval))),
            ]
            var report: [String: Any] = ["sample_steps": sampleSteps]
            for (name, samples) in groups where !samples.isEmpty {
                let value = try BasePretraining.evaluate(model, data: data, samples: samples, steps: sampleSteps)
                report[name] = ["psnr_db": value, "triplets": samples.count]
                print(String(format: "  %@: PSNR %.2f dB over %d triplets", name, value, samples.count))
            }
            try JSONFile.write(object: report, to: args.out + "/" + BasePretraining.folder + "/eval.json")
        }
    }
}
