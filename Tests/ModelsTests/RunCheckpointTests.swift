import Foundation
import Testing
import Formats
import Tensor
@testable import Models
import TestSupport

@Suite struct RunCheckpointTests {
    func tinyBase() -> FluxConfig {
        var c = FluxConfig.small
        c.numLayers = 1; c.numSingleLayers = 1; c.attentionHeadDim = 8; c.numAttentionHeads = 2; c.axesDimsRope = [2, 2, 4]
        return c
    }

    @Test func saveLoadRoundTripsBitForBit() throws {
        let base = tinyBase()
        let model = try FluxTransformer(.initialising(seed: 0), config: base)
        let adapterConfig = LoRABasisConfig(n: 4, r: 2, keysDim: 8, queryDim: 12, heads: 2, softmax: false, mixing: .sum)
        let adapters = try LoRWeBAdapters(.initialising(seed: 1), attachingTo: model, config: adapterConfig)
        let config = RunConfig(adapter: adapterConfig, queryMode: .concatenated, base: base, encoder: .vitL14, info: ["steps": "10"])
        let dir = scratchPath("run")
        try RunCheckpoint.save(adapters, config: config, to: dir)

        let fresh = try FluxTransformer(.initialising(seed: 0), config: base)
        let (loadedConfig, loaded) = try RunCheckpoint.load(dir, attachingTo: fresh)
        #expect(loadedConfig == config)
        for ((k1, t1), (k2, t2)) in zip(adapters.namedParameters, loaded.namedParameters) {
            #expect(k1 == k2 && t1.toArray().map(\.bitPattern) == t2.toArray().map(\.bitPattern))
        }
        // The file is in the release's layout: the summary `inspect` prints recognises it.
        let summary = SafetensorsSummary(try SafetensorsFile(path: dir + "/" + RunCheckpoint.weightsFile))
        #expect(summary.adapter?.layers == 20 && summary.adapter?.n == 4)

        var other = base
        other.jointAttentionDim = 32
        let otherModel = try FluxTransformer(.initialising(seed: 0), config: other)
        #expect(throws: FormatError.self) { try RunCheckpoint.load(dir, attachingTo: otherModel) }
        #expect(throws: FormatError.self) { try RunCheckpoint.config(in: FileManager.default.temporaryDirectory.path) }
    }

    @Test func queryModes() {
        let a = Tensor(shape: [1, 2], data: [1, 2]), ap = Tensor(shape: [1, 2], data: [5, 7]), b = Tensor(shape: [1, 2], data: [10, 20])
        #expect(QueryMode.concatenated.query(a: a, aPrime: ap, b: b).toArray() == [1, 2, 5, 7, 10, 20])
        #expect(QueryMode.differencePlusB.query(a: a, aPrime: ap, b: b).toArray() == [14, 25])
        #expect(QueryMode.difference.query(a: a, aPrime: ap, b: b).toArray() == [4, 5])
        #expect(QueryMode.concatenated.queryDim(embedding: 768) == 2304)
        #expect(QueryMode(rawValue: "cat-aa'b") == .concatenated)
    }
}

@Suite struct AdapterTests {
    /// n = 1 is one ordinary LoRA (the paper's matched-capacity baseline): its coefficient is
    /// always 1 under softmax, and the layer computes W x + b + s x A B.
    @Test func singleLoRAIsTheSpecialCaseNEqualsOne() throws {
        var rng = RNG(seed: 4)
        let p = Parameters.initialising(seed: 3)
        let linear = try Linear(p.scoped("layer"), 6, 5)
        let adapter = try LoRABasis(p.scoped("layer"), inFeatures: 6, outFeatures: 5,
                                    config: LoRABasisConfig(n: 1, r: 3, keysDim: 4, queryDim: 7, scale: 2))
        // B starts at zero (the adapter's output is exactly 0); give it values to see the product.
        let b = rng.normal([1, 3, 5])
        adapter.loraB.data.update(from: b.data, count: b.count)
        linear.adapter = adapter
        let x = rng.normal([2, 4, 6]), query = rng.normal([2, 7])
        #expect(adapter.coefficients(query).toArray() == [1, 1])
        let expected = x.linear(linear.weight, linear.bias) + x.matmul(adapter.loraA.reshaped([6, 3])).matmul(b.reshaped([3, 5])) * 2
        let got = linear(x, query: query)
        var worst: Float = 0
        for i in 0..<got.count { worst = max(worst, abs(got.data[i] - expected.data[i])) }
        #expect(worst < 1e-5)
    }

    @Test func attachesToANamedSubsetOnly() throws {
        var c = FluxConfig.small
        c.numLayers = 1; c.numSingleLayers = 1
        let model = try FluxTransformer(.meta(), config: c)
        let config = LoRABasisConfig(n: 2, r: 1, keysDim: 4, queryDim: 4)
        let some = try LoRWeBAdapters(.meta(), attachingTo: model, config: config,
                                      only: ["transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.proj_out"])
        #expect(some.layers.map(\.key) == ["transformer_blocks.0.attn.to_q", "single_transformer_blocks.0.proj_out"])
        #expect(throws: LoadError.self) { try LoRWeBAdapters(.meta(), attachingTo: model, config: config, only: ["x_embedder"]) }
        #expect(try LoRWeBAdapters(.meta(), attachingTo: model, config: config).layers.count == 20)
    }
}
