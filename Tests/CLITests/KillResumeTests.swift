import Foundation
import Testing
import TestSupport
import Formats
@testable import Pipeline
import Training

// Crash safety of a real training process: `lorweb pretrain-encoder` on a tiny small world,
// killed with SIGKILL at random moments (inside steps, inside checkpoint writes) and resumed,
// must always find a valid checkpoint and end with the same bytes as a run never interrupted;
// SIGTERM must checkpoint the step under way and exit with 143, and end a run still setting up
// at once.

/// A tiny small world and the weights of an uninterrupted run on it, made once.
enum TinyRun {
    static let steps = 20
    static let folder: String = try! try scratchFolder("tinyrun")
    static let data = folder + "/data"

    static func arguments(out: String, checkpointEvery: Int = 2, resume: Bool = false) -> [String] {
        ["pretrain-encoder", "--data", data, "--out", out, "--steps", String(steps), "--batch", "2", "--seed", "3",
         "--checkpoint-every", String(checkpointEvery)] + (resume ? ["--resume"] : [])
    }

    static func weights(_ out: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: out + "/" + EncoderPretraining.folder + "/model.safetensors"))
    }

    /// The model.safetensors bytes of an uninterrupted run.
    static let reference: Result<Data, Error> = Result {
        let synth = try CLI.run(["synth", "--out", data, "--train", "4", "--eval", "0"])
        guard synth.status == 0 else { throw FormatError(data, "synth failed: \(synth.stderr)") }
        let run = try CLI.run(arguments(out: folder + "/reference"))
        guard run.status == 0 else { throw FormatError(folder, "reference run failed: \(run.stderr)") }
        return try weights(folder + "/reference")
    }
}

@Suite(.serialized) struct KillResumeTests {
    /// Every checkpoint a killed run left must read back (checksum included); `latest` must agree.
    func checkCheckpoints(_ training: String, after kill: Int) throws {
        let files = TrainingCheckpoint.checkpoints(in: training)
        for (_, file) in files {
            #expect(throws: Never.self, "kill \(kill): \(file) does not read back") { _ = try TrainingCheckpoint.read(file) }
        }
        // A kill between the rename of a new checkpoint and the removal of the oldest leaves one extra.
        #expect(files.count <= TrainingCheckpoint.kept + 1, "kill \(kill): \(files.count) checkpoints kept")
        if !files.isEmpty { #expect(TrainingCheckpoint.latest(in: training) != nil, "kill \(kill): no valid checkpoint found") }
    }

    @Test func sigkillAtRandomMomentsThenResumeIsBitIdentical() throws {
        let reference = try TinyRun.reference.get()
        let out = try scratchFolder("killed")
        let training = out + "/" + EncoderPretraining.folder + "-training"
        var generator = SystemRandomNumberGenerator()
        var moments: [String] = []
        // Each attempt resumes the previous one. Odd attempts die early (start-up, loading a
        // checkpoint, the first step); even ones once a step more is saved plus a random part of
        // a step, so that with a checkpoint after every step kills land in steps and in writes.
        for attempt in 0..<6 {
            let saved = TrainingCheckpoint.checkpoints(in: training).map(\.step).max() ?? 0
            let process = try CLI.start(TinyRun.arguments(out: out, checkpointEvery: 1, resume: attempt > 0))
            if attempt % 2 == 0 {
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline, process.0.isRunning, (TrainingCheckpoint.checkpoints(in: training).map(\.step).max() ?? 0) <= saved {
                    Thread.sleep(forTimeInterval: 0.005)
                }
            }
            let delay = Double.random(in: attempt % 2 == 0 ? 0...0.15 : 0.05...0.4, using: &generator)
            moments.append(String(format: "%@%.3f s", attempt % 2 == 0 ? "step \(saved + 1) + " : "", delay))
            Thread.sleep(forTimeInterval: delay)
            kill(process.0.processIdentifier, SIGKILL)
            let run = CLI.finish(process)
            if !run.signalled {
                #expect(run.status == 0, "attempt \(attempt) failed before the kill: \(run.stderr)")
                break
            }
            try checkCheckpoints(training, after: attempt)
        }
        let last = try CLI.run(TinyRun.arguments(out: out, checkpointEvery: 1, resume: true))
        #expect(last.status == 0, "final resume failed: \(last.stderr)")
        #expect(try TinyRun.weights(out) == reference, "weights differ after kills at \(moments) s")
    }

    @Test func sigtermCheckpointsTheCurrentStepAndExits143() throws {
        let reference = try TinyRun.reference.get()
        let out = try scratchFolder("terminated")
        let training = out + "/" + EncoderPretraining.folder + "-training"
        // Checkpoints every 3 steps; the signal goes once the first is written, so it lands
        // inside a later step and the checkpoint it causes is named in the message.
        let process = try CLI.start(TinyRun.arguments(out: out, checkpointEvery: 3))
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, TrainingCheckpoint.checkpoints(in: training).isEmpty { Thread.sleep(forTimeInterval: 0.01) }
        kill(process.0.processIdentifier, SIGTERM)
        let run = CLI.finish(process)
        #expect(!run.signalled && run.status == 143, "status \(run.status): \(run.stderr)")
        let saved = try #require(TrainingCheckpoint.latest(in: training))
        #expect(saved.state.step < TinyRun.steps)
        #expect(run.stderr.contains("lorweb: stopped by SIGTERM after step \(saved.state.step); saved \(saved.path) (continue with --resume)"),
                "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/" + EncoderPretraining.folder), "a stopped run must not export the encoder")

        let resumed = try CLI.run(TinyRun.arguments(out: out, checkpointEvery: 3, resume: true))
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        #expect(try TinyRun.weights(out) == reference)
    }

    /// A signal while `train` loads its data and models must end it within seconds, not after a
    /// first step, and leave no run behind (the folder was made by this run, so it goes too).
    @Test func sigtermDuringSetupEndsAtOnce() throws {
        let folder = try scratchFolder("setup-signal"), world = folder + "/world", out = folder + "/run"
        let synth = try CLI.run(["synth", "--out", world, "--train", "40", "--eval", "10"])
        try #require(synth.status == 0, "\(synth.stderr)")
        let process = try CLI.start(["train", "--data", world, "--out", out, "--steps", "1000"])
        // The lock file appears once the run folder is claimed, the start of setup.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, process.0.isRunning, !FileManager.default.fileExists(atPath: out + "/" + FolderLock.fileName()) {
            Thread.sleep(forTimeInterval: 0.002)
        }
        let sent = Date()
        kill(process.0.processIdentifier, SIGTERM)
        let run = CLI.finish(process)
        let seconds = Date().timeIntervalSince(sent)
        #expect(!run.signalled && run.status == 143, "status \(run.status): \(run.stderr)")
        #expect(seconds < 3, "exited \(seconds) s after SIGTERM")
        #expect(run.stderr.contains("lorweb: stopped by SIGTERM during setup, before the first training step; nothing was trained")
                || run.stderr.contains("lorweb: stopped by SIGTERM before the first training step; nothing was trained"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out), "\(out) was left behind")
    }
}

