import Foundation
import Testing
import Tensor
@testable import Training
import TestSupport

private struct Interrupted: Error {}

/// A loop over `TinyRegression` in `folder`: 12 steps, checkpoints every 5, batch 4.
private func makeLoop(_ folder: String, total: Int = 12) -> TrainingLoop {
    var loop = TrainingLoop(totalSteps: total, checkpointEvery: 5, runFolder: folder)
    loop.schedule = .warmupCosine(warmup: 3, total: total, minFactor: 0.1)
    loop.dataOrder = DataOrder(count: TinyRegression.samples, batchSize: 4, seed: 21)
    loop.config = #"{"test":"tiny regression"}"#
    loop.progress = .off
    return loop
}

private func adam(_ model: TinyRegression) -> AdamW {
    AdamW(model.parameters, config: AdamWConfig(learningRate: 3e-2, beta1: 0.9, beta2: 0.99, weightDecay: 0.05))
}

/// Trains `model` with `loop`; `interruptAt` throws from that 0-based step, `poison` corrupts it.
@discardableResult
private func train(_ model: TinyRegression, _ loop: TrainingLoop, resume: Bool = false, interruptAt: Int? = nil,
                   poison: ((Int) -> Float?)? = nil) throws -> TrainingLoop.Summary
{
    let order = loop.dataOrder!
    return try loop.run(optimizer: adam(model), rng: RNG(seed: 8), resume: resume) { s, rng in
        if s == interruptAt { throw Interrupted() }
        let loss = model.loss(batch: order.batch(at: s), rng: rng)
        loss.backward()
        return (poison?(s) ?? loss.item(), ["batch_first": Double(order.batch(at: s)[0])])
    }
}

private func losses(_ folder: String) throws -> [Double] {
    try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
        (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["loss"] as! Double
    }
}

// Serialized: one test changes `Runtime.threads`.
@Suite(.serialized) struct TrainingLoopTests {
    /// 12 steps uninterrupted == 7 steps, a crash, and a resume from the step-5 checkpoint,
    /// parameter bits and logged losses alike.
    @Test func resumeIsBitIdenticalToAnUninterruptedRun() throws {
        let straight = try scratchFolder("loop-straight"), broken = try scratchFolder("loop-broken")
        defer { removeScratch(straight); removeScratch(broken) }
        let reference = TinyRegression(seed: 1)
        let summary = try train(reference, makeLoop(straight))
        #expect(summary.startStep == 0 && summary.lastCheckpoint?.hasSuffix("checkpoint-12.safetensors") == true)

        #expect(throws: Interrupted.self) { try train(TinyRegression(seed: 1), makeLoop(broken), interruptAt: 7) }
        #expect(try losses(broken).count == 7)
        // A new process: a differently initialised model, all of whose state comes from the checkpoint.
        let resumed = TinyRegression(seed: 99)
        let second = try train(resumed, makeLoop(broken), resume: true)
        #expect(second.startStep == 5)
        #expect(resumed.bits == reference.bits)
        #expect(try losses(broken) == losses(straight), "the log is cut back to step 5, not duplicated")
        #expect(TrainingCheckpoint.checkpoints(in: broken).map(\.step) == [10, 12])

        // Nothing left to do: resuming a finished run is a no-op.
        #expect(try train(resumed, makeLoop(broken), resume: true).lastLoss == nil)
        #expect(resumed.bits == reference.bits)
    }

    // A signal before the first step is tested on the binary (KillResumeTests): raised in this
    // process, its process-wide stop flag stopped training loops of suites running alongside.
    @Test func trainingReducesTheLoss() throws {
        let folder = try scratchFolder("loop-falls")
        defer { removeScratch(folder) }
        try train(TinyRegression(seed: 2), makeLoop(folder, total: 60))
        let l = try losses(folder)
        let early: Double = l.prefix(10).reduce(0, +), late: Double = l.suffix(10).reduce(0, +)
        #expect(late < 0.5 * early)
    }

    @Test func nonFiniteLossStopsNamingTheStepAndKeepsTheLastCheckpoint() throws {
        let folder = try scratchFolder("loop-nan")
        defer { removeScratch(folder) }
        let model = TinyRegression(seed: 3)
        do {
            try train(model, makeLoop(folder), poison: { $0 == 7 ? .nan : nil })
            Issue.record("a NaN loss must stop training")
        } catch let error as TrainingError {
            guard case .nonFinite(let step, let quantity, _, let last) = error else { throw error }
            #expect(step == 8 && quantity == "loss" && last?.hasSuffix("checkpoint-5.safetensors") == true)
            #expect(error.description.contains("step 8") && error.description.contains("checkpoint-5"))
        }
        #expect(TrainingCheckpoint.checkpoints(in: folder).map(\.step) == [5])
        #expect(model.parameters.allSatisfy { $0.tensor.grad == nil })
    }

    @Test func nonFiniteGradientStopsBeforeAnyCheckpoint() throws {
        let folder = try scratchFolder("loop-inf")
        defer { removeScratch(folder) }
        let model = TinyRegression(seed: 4)
        let before = model.bits
        let loop = makeLoop(folder)
        do {
            try loop.run(optimizer: adam(model), rng: RNG(seed: 8), resume: false) { s, rng in
                model.w1.grad = Tensor.full(model.w1.shape, .infinity)
                return (1, [:])
            }
            Issue.record("an infinite gradient must stop training")
        } catch let error as TrainingError {
            #expect(error.description == "training stopped at step 1: the gradient norm is inf; no checkpoint was written before it")
        }
        #expect(model.bits == before, "the bad step is not applied")
        #expect(TrainingCheckpoint.checkpoints(in: folder).isEmpty)
    }

    @Test func freshRunRefusesAFolderWithCheckpointsAndResumeChecksTheData() throws {
        let folder = try scratchFolder("loop-existing")
        defer { removeScratch(folder) }
        // Resume with nothing to resume from starts fresh.
        try train(TinyRegression(seed: 5), makeLoop(folder, total: 5), resume: true)
        #expect(throws: TrainingError.self) { try train(TinyRegression(seed: 5), makeLoop(folder)) }

        var other = makeLoop(folder)
        other.dataOrder = DataOrder(count: TinyRegression.samples - 1, batchSize: 4, seed: 21)
        do {
            try train(TinyRegression(seed: 5), other, resume: true)
            Issue.record("a changed data set must be refused")
        } catch let error as TrainingError {
            #expect(error.description.contains("31 samples"))
        }
    }

    /// The same run with 1 and 2 threads gives the same bits (hidden width 8192, so the update
    /// and norm kernels really split).
    @Test func trainingIsDeterministicAcrossThreadCounts() throws {
        func run(threads: Int) throws -> [[UInt32]] {
            let saved = Runtime.threads
            Runtime.threads = threads
            defer { Runtime.threads = saved }
            let folder = try scratchFolder("loop-threads")
            defer { removeScratch(folder) }
            let model = TinyRegression(seed: 6, hidden: 8192)
            try train(model, makeLoop(folder, total: 4))
            return model.bits
        }
        #expect(try run(threads: 1) == run(threads: 2))
    }
}
