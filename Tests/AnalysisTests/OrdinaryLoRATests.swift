import Foundation
import Testing
import TestSupport
import Formats
import Models
import Tensor
@testable import Analysis

// Ordinary LoRAs written by PEFT, diffusers and diffusers' kohya conversion
// (tools/fixtures/make_lora_fixtures.py) against the numbers numpy computes from their dense Delta W
// (Tests/Fixtures/lora/set/expected.json).

private let set = Fixtures.path("lora/set")

private struct Expected: Decodable {
    struct Layer: Decodable {
        let rank: Int, alpha: Double, scale: Double, frobenius: Double
        let singular_values: [Double]
    }
    struct Pair: Decodable { let layers: [String: Double], pooled: Double }
    let loras: [String: [String: Layer]]
    let pairs: [String: Pair]
    let common_layers: [String]
    let pca_variance: [Double]

    static func read() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: set + "/expected.json")))
    }
}

private func close(_ ours: Double, _ theirs: Double, relative: Double = 1e-4) -> Bool {
    abs(ours - theirs) <= relative * abs(theirs)
}

@Suite struct OrdinaryLoRATests {
    /// Each fixture, by the name expected.json gives it.
    static let files = [("p", "p-peft", OrdinaryLoRA.Layout.peft), ("p", "p-kohya.safetensors", .kohya), ("p", "p-sharded", .peft),
                        ("q", "q.safetensors", .diffusers), ("r", "r.safetensors", .diffusers)]

    @Test(arguments: files) func readsLayersRanksAndScales(_ name: String, _ file: String, _ layout: OrdinaryLoRA.Layout) throws {
        let truth = try Expected.read().loras[name]!
        let lora = try OrdinaryLoRA.read(set + "/" + file)
        #expect(lora.layout == layout)
        #expect(lora.layers.map(\.name) == truth.keys.sorted())
        #expect(lora.notes.isEmpty, "\(lora.notes)")
        for layer in lora.layers {
            let t = truth[layer.name]!
            #expect(layer.rank == t.rank && layer.alpha == t.alpha && Double(layer.scale) == t.scale, "\(file) \(layer.name)")
            #expect(layer.dtype == .f32)
        }
    }

    @Test(arguments: files) func spectraMatchDenseSVD(_ name: String, _ file: String, _ layout: OrdinaryLoRA.Layout) throws {
        let truth = try Expected.read().loras[name]!
        for s in try LoRACollection.spectra(OrdinaryLoRA.read(set + "/" + file)) {
            let t = truth[s.layer.name]!
            #expect(s.singularValues.count == t.singular_values.count)
            for (ours, theirs) in zip(s.singularValues, t.singular_values) {
                #expect(close(Double(ours), theirs), "\(file) \(s.layer.name): \(ours) vs \(theirs)")
            }
            #expect(close(s.frobenius, t.frobenius))
            #expect(s.effectiveRank > 1 && s.effectiveRank <= Double(t.rank) + 1e-9)
        }
    }

    /// The kohya and sharded versions are the PEFT folder's LoRA, bit for bit: same A, B and scale.
    @Test func kohyaShardedAndPEFTReadToTheSameDeltaW() throws {
        let peft = try OrdinaryLoRA.read(set + "/p-peft")
        for file in ["p-kohya.safetensors", "p-sharded"] {
            let other = try OrdinaryLoRA.read(set + "/" + file)
            #expect(other.layers.count == peft.layers.count)
            for (x, y) in zip(peft.layers, other.layers) {
                #expect(x.name == y.name && x.scale == y.scale && x.a.toArray() == y.a.toArray() && x.b.toArray() == y.b.toArray(), "\(file) \(y.name)")
            }
        }
    }

    /// Cosines are bounded by 1, so they are held to 1e-4 of that scale (several are near 0).
    @Test func similarityAndPCAMatchNumpy() throws {
        let truth = try Expected.read()
        let names = ["p", "q", "r"]
        let loras = try ["p-kohya.safetensors", "q.safetensors", "r.safetensors"].map { try OrdinaryLoRA.read(set + "/" + $0) }
        let c = try LoRACollection.compare(loras)
        #expect(c.layers == truth.common_layers && c.partial == ["transformer_blocks.0.attn.to_v"])
        let (pooled, layers) = (c.pooledCosines.toArray(), c.layerCosines.toArray())
        for i in 0..<3 { for j in (i + 1)..<3 {
            let pair = truth.pairs["\(names[i])-\(names[j])"]!
            #expect(abs(Double(pooled[i * 3 + j]) - pair.pooled) <= 1e-4 && pooled[j * 3 + i] == pooled[i * 3 + j])
            for (l, layer) in c.layers.enumerated() {
                #expect(abs(Double(layers[(l * 3 + i) * 3 + j]) - pair.layers[layer]!) <= 1e-4, "\(names[i])-\(names[j]) \(layer)")
            }
        } }
        #expect(c.pca.scores.shape == [3, 2])
        for (ours, theirs) in zip(c.pca.variance, truth.pca_variance) { #expect(close(ours, theirs), "\(ours) vs \(theirs)") }
    }

    /// DoRA magnitudes cannot be analysed as B A; the reader says so instead of dropping them silently.
    @Test func doraMagnitudesAreNoted() throws {
        let path = scratchPath("dora") + ".safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let q = "transformer_blocks.0.attn.to_q"
        try Safetensors.write(["\(q).lora_A.weight": Tensor.ones([2, 8]), "\(q).lora_B.weight": Tensor.ones([8, 2]),
                               "\(q).lora_magnitude_vector": Tensor.ones([8])], to: path)
        let lora = try OrdinaryLoRA.read(path)
        #expect(lora.layers.count == 1 && lora.layers[0].scale == 1)
        #expect(lora.notes.contains { $0.contains("DoRA magnitude vectors on 1 layer(s) are not supported") })
        #expect(lora.notes.contains { $0.contains("no alpha") })
    }

    /// PEFT's rules: a pattern key matches a module path's tail (or is a regular expression), and
    /// rsLoRA scales by alpha / sqrt(r).
    @Test func patternsMatchLikePEFTAndRSLoRAScalesBySquareRoot() throws {
        let folder = try scratchFolder("rslora")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var tensors: [String: Tensor] = [:]
        for (layer, r) in [("transformer_blocks.0.attn.to_q", 4), ("transformer_blocks.1.attn.to_q", 4), ("single_transformer_blocks.0.proj_mlp", 1)] {
            tensors["base_model.model.\(layer).lora_A.weight"] = Tensor.ones([r, 8])
            tensors["base_model.model.\(layer).lora_B.weight"] = Tensor.ones([8, r])
        }
        try Safetensors.write(tensors, to: folder + "/adapter_model.safetensors")
        try Data(#"{"r": 4, "lora_alpha": 8, "use_rslora": true, "rank_pattern": {"proj_mlp": 1}, "alpha_pattern": {"transformer_blocks\\.1\\..*": 2}}"#.utf8)
            .write(to: URL(fileURLWithPath: folder + "/adapter_config.json"))
        let lora = try OrdinaryLoRA.read(folder)
        #expect(lora.layers.map(\.name) == ["single_transformer_blocks.0.proj_mlp", "transformer_blocks.0.attn.to_q", "transformer_blocks.1.attn.to_q"])
        #expect(lora.layers.map(\.alpha) == [8, 8, 2] && lora.layers.map(\.scale) == [8, 4, 1])
    }

    /// Kohya names of other models keep their names and are still analysed.
    @Test func unmappedKohyaNamesKeepTheirNames() throws {
        let path = scratchPath("kohya") + ".safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stem = "lora_unet_double_blocks_0_img_attn_qkv"
        try Safetensors.write(["\(stem).lora_down.weight": Tensor.ones([2, 8]), "\(stem).lora_up.weight": Tensor.ones([24, 2]),
                               "\(stem).alpha": Tensor(shape: [], data: [1]),
                               "lora_unet_single_transformer_blocks_3_proj_mlp.lora_down.weight": Tensor.ones([1, 8]),
                               "lora_unet_single_transformer_blocks_3_proj_mlp.lora_up.weight": Tensor.ones([32, 1])], to: path)
        let lora = try OrdinaryLoRA.read(path)
        #expect(lora.layers.map(\.name) == [stem, "single_transformer_blocks.3.proj_mlp"])
        #expect(lora.layers[0].scale == 0.5 && lora.layers[1].scale == 1)
        #expect(lora.notes.contains { $0.contains("1 kohya layer(s) match no Flux transformer module") })
        #expect(try LoRACollection.spectra(lora).map(\.singularValues.count) == [2, 1])
    }
}
