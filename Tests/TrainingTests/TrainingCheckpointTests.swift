import Foundation
import Testing
import Tensor
@testable import Training
import TestSupport

/// A state after `step` steps of a two-parameter model with recognisable values.
private func sampleState(step: Int) -> TrainingState {
    var rng = RNG(seed: UInt64(step))
    let a = rng.normal([3, 5]), b = rng.normal([7])
    var optimizer = AdamWState(config: AdamWConfig(learningRate: 1e-3, beta2: 0.99, weightDecay: 0.05))
    for (key, p) in [("layer.b", b), ("layer.a", a)] {
        optimizer.m[key] = rng.normal(p.shape)
        optimizer.v[key] = rng.uniform(p.shape)
        optimizer.steps[key] = step
    }
    // A seed beyond 2^53 and a non-zero counter: the JSON metadata must keep all 64 bits.
    return TrainingState(step: step, parameters: [("layer.b", b), ("layer.a", a)], optimizer: optimizer,
                         rng: RNG(seed: UInt64.max - 12345, stream: 1 << 60 + 3, counter: 77),
                         dataOrder: DataOrder(count: 10, batchSize: 3, seed: 5), config: #"{"run":"a \"quoted\" name","steps":2}"#)
}

@Suite struct TrainingCheckpointTests {
    @Test func roundTripIsBitExact() throws {
        let folder = try scratchFolder("ckpt-roundtrip")
        defer { removeScratch(folder) }
        let state = sampleState(step: 42)
        let path = try TrainingCheckpoint.save(state, in: folder)
        #expect(path.hasSuffix("/checkpoint-42.safetensors"))
        let back = try TrainingCheckpoint.read(path)
        #expect(back.step == 42 && back.rng == state.rng && back.dataOrder == state.dataOrder && back.config == state.config)
        #expect(back.parameters.map(\.key) == ["layer.b", "layer.a"], "the optimizer's parameter order survives")
        for (key, p) in state.parameters {
            let restored = back.parameters.first { $0.key == key }!.tensor
            #expect(sameBits(restored, p))
            #expect(sameBits(back.optimizer.m[key]!, state.optimizer.m[key]!))
            #expect(sameBits(back.optimizer.v[key]!, state.optimizer.v[key]!))
        }
        #expect(back.optimizer.steps == state.optimizer.steps && back.optimizer.config == state.optimizer.config)
    }

    @Test func keepsTheLastTwoAndFallsBackFromADamagedNewest() throws {
        let folder = try scratchFolder("ckpt-fallback")
        defer { removeScratch(folder) }
        for step in [10, 20, 30] { try TrainingCheckpoint.save(sampleState(step: step), in: folder) }
        #expect(TrainingCheckpoint.checkpoints(in: folder).map(\.step) == [20, 30])
        #expect(TrainingCheckpoint.latest(in: folder)?.state.step == 30)

        // A truncated newest file: the header no longer fits.
        let newest = folder + "/" + TrainingCheckpoint.fileName(step: 30)
        let data = try Data(contentsOf: URL(fileURLWithPath: newest))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: newest))
        let latest = TrainingCheckpoint.latest(in: folder)
        #expect(latest?.state.step == 20 && latest?.path.hasSuffix("checkpoint-20.safetensors") == true)
        #expect(FileManager.default.fileExists(atPath: newest + ".corrupt"), "the damaged file is set aside")
        #expect(TrainingCheckpoint.checkpoints(in: folder).map(\.step) == [20])

        // A flipped bit in the data: the file parses, the checksum catches it.
        let path = try TrainingCheckpoint.save(sampleState(step: 40), in: folder)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 3] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: (any Error).self) { try TrainingCheckpoint.read(path) }
        #expect(TrainingCheckpoint.latest(in: folder)?.state.step == 20)
    }

    @Test func metricsLogIsCutBackToTheCheckpointStep() throws {
        let folder = try scratchFolder("metrics")
        defer { removeScratch(folder) }
        let path = folder + "/" + MetricsLog.fileName
        do {
            let log = try MetricsLog(path: path, keepingThrough: nil)
            for step in 1...5 {
                try log.append(MetricsRecord(step: step, loss: Float(step) / 8, learningRate: 1e-3, gradNorm: 0.5,
                                             seconds: 0.01, extra: ["t \"mean\"": 0.25, "nan": .nan]))
            }
        }
        // A torn last line, as a crash mid-write would leave.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"step":6,"lo"#.utf8))
        try handle.close()

        let lines = { try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init) }
        #expect(try lines()[0] == #"{"step":1,"loss":0.125,"lr":0.001,"grad_norm":0.5,"seconds":0.01,"extra":{"nan":null,"t \"mean\"":0.25}}"#)
        _ = try MetricsLog(path: path, keepingThrough: 3)
        #expect(try lines().count == 3 && lines()[2].hasPrefix(#"{"step":3,"#))
        _ = try MetricsLog(path: path, keepingThrough: nil)
        #expect(try lines().isEmpty)
    }

    @Test func dataOrderVisitsEachSampleOncePerEpoch() {
        let order = DataOrder(count: 10, batchSize: 4, seed: 3)
        // Steps 0...4 read 20 samples: epochs 0 and 1, the batch of step 2 straddling them.
        let first = (0..<5).flatMap { order.batch(at: $0) }
        #expect(Set(first[0..<10]) == Set(0..<10) && Set(first[10..<20]) == Set(0..<10))
        #expect(first[0..<10] != first[10..<20], "each epoch has its own permutation")
        #expect(order.position(at: 3) == (1, 2))
        #expect(DataOrder(count: 10, batchSize: 4, seed: 3).batch(at: 2) == order.batch(at: 2))
        #expect(DataOrder(count: 10, batchSize: 4, seed: 4).batch(at: 0) != order.batch(at: 0))
    }
}
