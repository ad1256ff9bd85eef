import Foundation
import Testing
import Formats
import Tensor
@testable import Models
import TestSupport

// Loading by upstream layout: model folders (config.json + safetensors) and the authors' adapter
// file with its config.yaml, including the errors a user sees when something does not fit.

/// A model folder made from a parity fixture: config.json (the constructor config) + weights.
func modelFolder(from fixture: String) throws -> String {
    let src = fixturesRoot.appendingPathComponent("parity/\(fixture)").path
    let dir = try scratchFolder(fixture)
    let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: src + "/config.json"))) as! [String: Any]
    try JSONSerialization.data(withJSONObject: meta["config"]!).write(to: URL(fileURLWithPath: dir + "/config.json"))
    try FileManager.default.copyItem(atPath: src + "/weights.safetensors", toPath: dir + "/model.safetensors")
    return dir
}

@Suite struct CheckpointTests {
    @Test func loadsModelFoldersByKey() throws {
        let flux = try FluxTransformer.load(try modelFolder(from: "flux-noguidance-h3"))
        #expect(flux.config.numAttentionHeads == 3 && flux.config.outputChannels == 4)
        let clip = try CLIPVision.load(try modelFolder(from: "clip-quickgelu"))
        #expect(clip.config.hiddenSize == 32 && clip.config.projectionDim == 16)
    }

    @Test func wrongCheckpointListsEveryProblem() throws {
        // CLIP weights offered as a Flux transformer: every Flux key is missing, every CLIP key unexpected.
        let dir = try modelFolder(from: "clip-gelu")
        do {
            _ = try FluxTransformer.load(dir + "/model.safetensors", config: .small)
            Issue.record("expected a load error")
        } catch {
            let message = "\(error)"
            #expect(message.contains("missing") && message.contains("x_embedder.weight") && message.contains("expected [256, 192]"))
            #expect(message.contains("unexpected") && message.contains("vision_model."))
        }
    }

    @Test func releaseAdapterLoadsWithItsConfig() throws {
        let adapter = fixturesRoot.appendingPathComponent("formats/adapter_tiny.safetensors").path
        let release = fixturesRoot.appendingPathComponent("formats/config.yaml").path
        // The committed config.yaml is the release's (n 32, r 4, kdim 128): it does not fit the tiny file.
        do {
            _ = try LoRWeBAdapters.loadRelease(adapter, config: release)
            Issue.record("expected a mismatch error")
        } catch { #expect("\(error)".contains("n 32") && "\(error)".contains("n 4")) }

        let yaml = try String(contentsOfFile: release, encoding: .utf8)
            .replacingOccurrences(of: "loras_num: 32", with: "loras_num: 4")
            .replacingOccurrences(of: "lora_keys_dim: 128", with: "lora_keys_dim: 8")
            .replacingOccurrences(of: "linear: 4", with: "linear: 2")
        let tiny = scratchPath("tiny") + ".yaml"
        try yaml.write(toFile: tiny, atomically: true, encoding: .utf8)
        let adapters = try LoRWeBAdapters.loadRelease(adapter, config: tiny)
        #expect(adapters.layers.count == 3)
        #expect(adapters.config == LoRABasisConfig(n: 4, r: 2, keysDim: 8, queryDim: 12))
        // Layers come in block order, and coefficients of a query are a distribution over the basis.
        let keys = adapters.layers.map(\.key)
        #expect(keys == keys.sorted { ReleaseAdapterKeys.order($0) < ReleaseAdapterKeys.order($1) })
        var rng = RNG(seed: 1)
        let alpha = adapters.layers[0].adapter.coefficients(rng.normal([2, 12]))
        #expect(alpha.shape == [2, 4] && abs(alpha.sum().item() - 2) < 1e-5)
    }

    @Test func keySpellingsOfTheReleaseAreAccepted() throws {
        let a = Tensor.zeros([2, 3, 1]), b = Tensor.zeros([2, 1, 5]), k = Tensor.zeros([2, 4]), q = Tensor.zeros([4, 6])
        for (prefix, aName, bName, kName) in [("transformer.", "lora_A", "lora_B", "lora_keys"), ("", "att_lora_A", "att_lora_B", "att_lora_keys"),
                                              ("", "lora_down", "lora_up", "lora_keys")] {
            let layer = prefix + "single_transformer_blocks.3.proj_mlp"
            let source = ReleaseAdapterKeys(TensorDictionary([
                "\(layer).\(aName)": a, "\(layer).\(bName)": b, "\(layer).\(kName)": k, "\(layer).att_lora_to_q.weight": q,
            ]))
            #expect(source.layerKeys == ["single_transformer_blocks.3.proj_mlp"])
            let shapes = try source.shapes()
            #expect(shapes.n == 2 && shapes.r == 1 && shapes.kdim == 4 && shapes.qdim == 6)
        }
    }
}
