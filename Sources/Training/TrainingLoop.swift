import Foundation
import Formats
import Tensor

/// The loop every lorweb trainer shares: step, clip, AdamW with the scheduled rate, metrics,
/// progress, checkpoints, resume, a clean stop on NaN, and on SIGINT/SIGTERM a checkpoint
/// before stopping (`TrainingError.interrupted`). Not a framework: the caller's `step`
/// closure does the forward and backward passes and owns everything model-specific.
///
/// Resuming is bit-identical to never having stopped: the checkpoint holds the parameters, the
/// optimizer's moments and step counts in float32, and the root generator; step s draws only
/// from `rng.fork(s)` and reads `DataOrder.batch(at: s)`, both pure functions of s; clipping and
/// the optimizer are deterministic for every thread count.
///
/// ```swift
/// var loop = TrainingLoop(totalSteps: 2000, checkpointEvery: 250, runFolder: out)
/// loop.schedule = .warmupConstant(warmup: 100)
/// loop.dataOrder = DataOrder(count: data.count, batchSize: 4, seed: seed)
/// try loop.run(optimizer: adam, rng: RNG(seed: seed), resume: resume) { s, rng in
///     var rng = rng
///     let loss = model.loss(batch: loop.dataOrder!.batch(at: s), rng: &rng)
///     loss.backward()
///     return (loss.item(), [:])
/// }
/// ```
public struct TrainingLoop {
    /// Steps of the whole run (a resumed run continues up to it).
    public var totalSteps: Int
    /// A checkpoint every this many steps, and always one after the last step.
    public var checkpointEvery: Int
    /// Where checkpoints and `metrics.jsonl` go (created if needed).
    public var runFolder: String
    public var schedule: LRSchedule = .constant
    /// Clip gradients to this global norm (the release: 1.0); nil logs the norm without clipping.
    public var maxGradNorm: Double? = 1.0
    /// The data order the caller reads batches by; stored in checkpoints and checked on resume.
    public var dataOrder: DataOrder?
    /// The run's settings as a JSON object, stored in every checkpoint. A resume must bring the
    /// same settings; of `changeableSettings` only "steps" is recorded when it changes, in the
    /// config's "history" (a list of {"resumed_at": step, "steps": [before, after]}).
    public var config = "{}"
    /// Settings a resume may change: more steps (never fewer), and how often it checkpoints;
    /// neither changes what the steps already taken computed.
    public static let changeableSettings: Set<String> = ["steps", "checkpoint_every"]
    public var progress: ProgressStyle = .automatic

    public init(totalSteps: Int, checkpointEvery: Int, runFolder: String) {
        precondition(totalSteps >= 0 && checkpointEvery > 0, "TrainingLoop: \(totalSteps) steps, checkpoint every \(checkpointEvery)")
        self.totalSteps = totalSteps
        self.checkpointEvery = checkpointEvery
        self.runFolder = runFolder
    }

    /// What a finished run reports.
    public struct Summary {
        /// Completed steps the run started from (0, or the resumed checkpoint's step).
        public var startStep: Int
        /// The loss of the last step this process ran (nil if it ran none).
        public var lastLoss: Float?
        /// The newest checkpoint written or resumed from.
        public var lastCheckpoint: String?
        /// The run's settings as stored in its checkpoints: `config`, with the history of resumes
        /// that extended the run.
        public var config: String
    }

    /// Runs steps until `totalSteps`. `step(s, rng)` gets the 0-based step and that step's own
    /// generator, runs forward and backward (gradients accumulate into the optimizer's
    /// parameters) and returns the loss and any extra values to log.
    ///
    /// - `resume`: continue from the newest valid checkpoint in `runFolder` (its generator
    ///   replaces `rng`); with none, start from scratch. Without `resume` the folder must hold
    ///   no checkpoints. Either way the temporary files of checkpoint writes killed before their
    ///   rename are removed, and if the run fails before its first checkpoint, a `runFolder` it
    ///   created is removed again.
    /// - Throws: `TrainingError.nonFinite` naming the step when the loss or the gradient norm is
    ///   NaN or infinite (that step is not applied, nothing more is written, the last
    ///   checkpoint stays); `TrainingError.interrupted` after SIGINT or SIGTERM (the step under
    ///   way finishes and is checkpointed first); `TrainingError.mismatch` for a checkpoint that
    ///   does not fit or settings that differ from the checkpoint's (listed); I/O errors.
    @discardableResult
    public func run(optimizer: AdamW, rng: RNG, resume: Bool,
                    step body: (_ step: Int, _ rng: RNG) throws -> (loss: Float, extra: [String: Double])) throws -> Summary
    {
        let created = !FileManager.default.fileExists(atPath: runFolder)
        try AtomicFile.createFolder(runFolder)
        AtomicFile.removeStaleTemporaries(in: runFolder)
        var rng = rng
        var summary = Summary(startStep: 0, config: config)
        do {
            try start(resume: resume, optimizer: optimizer, rng: &rng, summary: &summary, body)
        } catch {
            if created && summary.lastCheckpoint == nil { try? FileManager.default.removeItem(atPath: runFolder) }
            throw error
        }
        return summary
    }

    private func start(resume: Bool, optimizer: AdamW, rng: inout RNG, summary: inout Summary,
                       _ body: (_ step: Int, _ rng: RNG) throws -> (loss: Float, extra: [String: Double])) throws
    {
        if resume, let (path, state) = TrainingCheckpoint.latest(in: runFolder) {
            summary.config = try resumedConfig(state)
            try restore(state, into: optimizer)
            rng = state.rng
            summary.startStep = state.step
            summary.lastCheckpoint = path
        } else if !resume, !TrainingCheckpoint.checkpoints(in: runFolder).isEmpty {
            throw TrainingError.existingRun(folder: runFolder)
        }

        let metrics = try MetricsLog(path: runFolder + "/" + MetricsLog.fileName,
                                     keepingThrough: summary.lastCheckpoint == nil ? nil : summary.startStep)
        var bar = ProgressReporter(style: progress, total: totalSteps, first: summary.startStep)
        defer { bar.finish() }

        try StopSignals.handling {
            try steps(from: summary.startStep, optimizer: optimizer, rng: rng, metrics: metrics, bar: &bar, summary: &summary, body)
        }
    }

    /// A `config`: the fields of `options` and `extra` (what else must stay the same on resume:
    /// data, architecture) as one line of JSON with sorted keys.
    public static func settings(_ options: some Encodable, _ extra: [String: Any] = [:]) throws -> String {
        var object = (try JSONSerialization.jsonObject(with: Data(try JSONFile.line(options).utf8)) as? [String: Any]) ?? [:]
        object.merge(extra) { _, new in new }
        return try line(object)
    }

    /// `object` as one line of JSON with sorted keys, as `config` is stored.
    private static func line(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    /// This run's `config` for a resume of `state`: refused, listing every difference, when a
    /// setting outside `changeableSettings` changed or the steps shrank; with more steps, the
    /// change appended to the history. A setting the checkpoint does not record (one written
    /// before it was recorded) is not compared.
    func resumedConfig(_ state: TrainingState) throws -> String {
        func object(_ text: String) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        }
        func text(_ value: Any?) -> String {
            guard let value, let line = try? Self.line([value]) else { return "(none)" }
            return String(line.dropFirst().dropLast())   // without the wrapping array's brackets
        }
        let (old, new) = (object(state.config), object(config))
        var changes: [String] = []
        for key in old.keys.sorted() where key != "history" && !Self.changeableSettings.contains(key) && text(old[key]) != text(new[key]) {
            changes.append("\(key) \(text(old[key]).prefix(200)) -> \(text(new[key]).prefix(200))")
        }
        let (before, after) = (old["steps"] as? Int, new["steps"] as? Int)
        if let before, let after, after < before {
            changes.append("steps \(before) -> \(after) (a run can only be extended)")
        }
        guard changes.isEmpty else {
            throw TrainingError.mismatch("the settings differ from the run's: \(changes.joined(separator: "; ")); "
                                         + "resume with the run's settings (only the steps may grow) or start a new run")
        }
        var resumed = new
        var history = old["history"] as? [Any] ?? []
        if let before, let after, after != before { history.append(["resumed_at": state.step, "steps": [before, after]]) }
        if !history.isEmpty { resumed["history"] = history }
        guard let line = try? Self.line(resumed) else { throw TrainingError.mismatch("the run's settings cannot be stored as JSON") }
        return line
    }

    private func steps(from start: Int, optimizer: AdamW, rng: RNG, metrics: MetricsLog, bar: inout ProgressReporter,
                       summary: inout Summary, _ body: (_ step: Int, _ rng: RNG) throws -> (loss: Float, extra: [String: Double])) throws
    {
        let parameters = optimizer.parameters.map(\.tensor)
        // A signal that came as the loop started (or was held blocked until it did) stops it before a step.
        if let signal = StopSignals.pending {
            guard let last = summary.lastCheckpoint else { throw TrainingError.stoppedBeforeFirstStep(signal: signal) }
            throw TrainingError.interrupted(signal: signal, step: start, checkpoint: last)
        }
        for s in start..<max(start, totalSteps) {
            let started = DispatchTime.now().uptimeNanoseconds
            optimizer.zeroGrad()
            let (loss, extra) = try body(s, rng.fork(UInt64(s)))
            guard loss.isFinite else {
                optimizer.zeroGrad()
                throw TrainingError.nonFinite(step: s + 1, quantity: "loss", value: Double(loss), lastCheckpoint: summary.lastCheckpoint)
            }
            let norm = maxGradNorm.map { GradientClipping.clip(parameters, maxNorm: $0) }
                ?? GradientClipping.globalNorm(optimizer.gradients)
            guard norm.isFinite else {
                optimizer.zeroGrad()
                throw TrainingError.nonFinite(step: s + 1, quantity: "gradient norm", value: norm, lastCheckpoint: summary.lastCheckpoint)
            }
            let lr = schedule.learningRate(at: s, base: optimizer.config.learningRate)
            optimizer.step(learningRate: lr)

            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            try metrics.append(MetricsRecord(step: s + 1, loss: loss, learningRate: lr, gradNorm: norm, seconds: seconds, extra: extra))
            bar.update(step: s + 1, loss: loss)
            summary.lastLoss = loss

            let signal = StopSignals.pending
            if (s + 1) % checkpointEvery == 0 || s + 1 == totalSteps || signal != nil {
                // The log first: a checkpoint must never be ahead of the lines it will keep.
                try metrics.sync()
                let state = TrainingState(step: s + 1, parameters: optimizer.parameters, optimizer: optimizer.state,
                                          rng: rng, dataOrder: dataOrder, config: summary.config)
                summary.lastCheckpoint = try TrainingCheckpoint.save(state, in: runFolder)
            }
            if let signal, s + 1 < totalSteps {
                throw TrainingError.interrupted(signal: signal, step: s + 1, checkpoint: summary.lastCheckpoint!)
            }
        }
    }

    /// Copies a checkpoint's parameters and optimizer state into the live tensors (the model
    /// holds references to them, so they are overwritten, not replaced).
    private func restore(_ state: TrainingState, into optimizer: AdamW) throws {
        if state.dataOrder != dataOrder {
            func text(_ o: DataOrder?) -> String { o.map { "\($0.count) samples, batch \($0.batchSize), seed \($0.seed)" } ?? "none" }
            throw TrainingError.mismatch("the data order changed: the checkpoint has \(text(state.dataOrder)), this run \(text(dataOrder))")
        }
        let stored = Dictionary(state.parameters, uniquingKeysWith: { a, _ in a })
        guard stored.count == optimizer.parameters.count else {
            throw TrainingError.mismatch("the checkpoint holds \(stored.count) parameters, the model \(optimizer.parameters.count)")
        }
        for (key, p) in optimizer.parameters {
            guard let saved = stored[key] else { throw TrainingError.mismatch("the checkpoint lacks parameter '\(key)'") }
            guard saved.shape == p.shape else {
                throw TrainingError.mismatch("parameter '\(key)' has shape \(saved.shape) in the checkpoint, \(p.shape) in the model")
            }
        }
        try optimizer.load(state.optimizer)
        for (key, p) in optimizer.parameters { p.data.update(from: stored[key]!.data, count: p.count) }
    }
}
