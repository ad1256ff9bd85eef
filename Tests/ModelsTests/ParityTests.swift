import Foundation
import Testing
import Formats
import Tensor
@testable import Models
import TestSupport

// Replays the parity fixtures made by tools/fixtures/make_parity_fixtures.py from diffusers, transformers
// and a PyTorch transcription of the LoRWeB formula. Every folder under Tests/Fixtures/parity and
// under $LORWEB_PARITY_DIR is one case. Tolerance: max |out - expected| <= 1e-4 * max(1, max |expected|).

let fixturesRoot = Fixtures.root

func parityFolders() -> [String] {
    var roots = [fixturesRoot.appendingPathComponent("parity").path]
    if let extra = ProcessInfo.processInfo.environment["LORWEB_PARITY_DIR"] { roots.append(extra) }
    return roots.flatMap { root in
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
            .map { root + "/" + $0 }
            .filter { FileManager.default.fileExists(atPath: $0 + "/config.json") }
    }
}

struct Fixture {
    let name: String
    let meta: [String: Any]
    let config: Data
    let weights: SafetensorsFile, inputs: SafetensorsFile, expected: SafetensorsFile

    init(_ folder: String) throws {
        name = URL(fileURLWithPath: folder).lastPathComponent
        let json = try Data(contentsOf: URL(fileURLWithPath: folder + "/config.json"))
        meta = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        config = try JSONSerialization.data(withJSONObject: meta["config"] ?? [:])
        weights = try SafetensorsFile(path: folder + "/weights.safetensors")
        inputs = try SafetensorsFile(path: folder + "/inputs.safetensors")
        expected = try SafetensorsFile(path: folder + "/expected.safetensors")
    }

    func input(_ key: String) throws -> Tensor {
        guard let t = try inputs.tensorIfPresent(key) else { throw LoadError("\(name): inputs lack \(key)") }
        return t
    }

    /// Compares one output with the tolerance of the contract and names the worst element.
    func check(_ key: String, _ actual: Tensor, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard let want = try expected.tensorIfPresent(key) else { throw LoadError("\(name): expected lacks \(key)") }
        #expect(actual.shape == want.shape, "\(name) \(key): shape \(actual.shape) vs expected \(want.shape)", sourceLocation: sourceLocation)
        guard actual.shape == want.shape else { return }
        var worst: Float = 0, at = 0, scale: Float = 1
        for i in 0..<want.count {
            scale = max(scale, abs(want.data[i]))
            let d = abs(actual.data[i] - want.data[i])
            if !(d <= worst) { worst = d; at = i }
        }
        let ok = worst <= 1e-4 * scale
        #expect(ok, "\(name) \(key): max error \(worst) at flat index \(at) (got \(actual.data[at]), expected \(want.data[at])); tolerance \(1e-4 * scale)",
                sourceLocation: sourceLocation)
        print("parity \(name) \(key): max error \(worst) (scale \(scale))")
    }
}

@Suite struct ParityTests {
    @Test func fixturesArePresent() {
        #expect(parityFolders().count >= 11, "expected the committed parity fixtures under \(fixturesRoot.path)/parity")
    }

    @Test(arguments: parityFolders())
    func parity(_ folder: String) throws {
        let f = try Fixture(folder)
        switch f.meta["model"] as? String {
        case "flux-transformer": try flux(f)
        case "clip-vision": try clip(f)
        case "lorweb-linear": try lorwebLinear(f)
        case let other: Issue.record("\(f.name): unknown model kind \(other ?? "nil")")
        }
    }

    func flux(_ f: Fixture) throws {
        let config = try JSONDecoder().decode(FluxConfig.self, from: f.config)
        let base = Parameters.loading(from: f.weights)
        let model = try FluxTransformer(base, config: config)
        var adapters: LoRWeBAdapters? = nil
        if let a = f.meta["adapter"] as? [String: Any] {
            let c = LoRABasisConfig(n: a["n"] as! Int, r: a["r"] as! Int, keysDim: a["kdim"] as! Int, queryDim: a["qdim"] as! Int,
                                    heads: a["heads"] as! Int, softmax: a["softmax"] as! Bool,
                                    mixing: LoRABasisConfig.Mixing(rawValue: a["mixing"] as! String)!,
                                    scale: Float(a["scale"] as! Double))
            let adapterParams = Parameters.loading(from: ReleaseAdapterKeys(f.weights))
            adapters = try LoRWeBAdapters(adapterParams, attachingTo: model, config: c)
            #expect(adapters!.layers.count == f.meta["adapted_layers"] as? Int)
            // One file holds both: each registry must leave over exactly the other's tensors.
            #expect(adapterParams.unusedKeys.allSatisfy { !$0.contains("lora") })
            #expect(base.unusedKeys.allSatisfy { $0.contains("lora") })
        } else {
            #expect(base.unusedKeys.isEmpty, "\(f.name): unused checkpoint keys \(base.unusedKeys)")
        }
        let query = try f.inputs.tensorIfPresent("query")
        let grads = try f.inputs.tensorIfPresent("grad_output")
        if grads != nil { for (_, t) in adapters?.namedParameters ?? [] { t.requiresGrad = true } }
        let (x, text, pooled, t) = (try f.input("hidden_states"), try f.input("encoder_hidden_states"),
                                    try f.input("pooled_projections"), try f.input("timestep"))
        let (guidance, imgIds, txtIds) = (try f.inputs.tensorIfPresent("guidance"), try f.input("img_ids"), try f.input("txt_ids"))
        func forward(_ input: AdapterInput?) -> Tensor {
            model(hiddenStates: x, encoderHiddenStates: text, pooledProjections: pooled, timestep: t, guidance: guidance,
                  imgIds: imgIds, txtIds: txtIds, adapters: input)
        }
        let sample = forward(query.map(AdapterInput.query))
        try f.check("sample", sample)
        if let query, let adapters {
            // Generation merges the basis mixed by the coefficients into the weights: the same sample.
            try f.check("sample", withNoGrad { forward(adapters.merged(into: model, coefficients: adapters.coefficients(query))) })
        }
        if let grads, let adapters {
            sample.backward(grads)
            for (key, t) in adapters.namedParameters {
                let upstream = "grad." + key.dropFirst("transformer.".count)
                try f.check(upstream, t.grad ?? Tensor.zeros(t.shape))
            }
        }
    }

    func clip(_ f: Fixture) throws {
        let config = try JSONDecoder().decode(CLIPVisionConfig.self, from: f.config)
        let p = Parameters.loading(from: f.weights)
        let model = try CLIPVision(p, config: config)
        #expect(p.unusedKeys.isEmpty, "\(f.name): unused checkpoint keys \(p.unusedKeys)")
        let out = model(try f.input("pixel_values"))
        try f.check("image_embeds", out.imageEmbeds)
        try f.check("image_embeds", model.imageEmbeds(try f.input("pixel_values")))
        try f.check("last_hidden_state", out.lastHiddenState)
    }

    func lorwebLinear(_ f: Fixture) throws {
        let c = try JSONSerialization.jsonObject(with: f.config) as! [String: Any]
        let w = f.weights
        func t(_ k: String) throws -> Tensor { try w.tensor(k) }
        let (n, r) = (c["n"] as! Int, c["r"] as! Int)
        let keys = try t("lora_keys"), toQ = try t("to_q.weight"), base = try t("base.weight")
        let config = LoRABasisConfig(n: n, r: r, keysDim: keys.shape[1], queryDim: toQ.shape[1], heads: c["heads"] as! Int,
                                     softmax: c["softmax"] as! Bool, mixing: LoRABasisConfig.Mixing(rawValue: c["mixing"] as! String)!,
                                     scale: Float(c["lora_alpha"] as! Double) / Float(r))
        let p = Parameters.loading(from: TensorDictionary([
            "weight": base, "bias": try t("base.bias"), "lora_A": try t("lora_A"), "lora_B": try t("lora_B"),
            "lora_keys": keys, "att_lora_to_q.weight": toQ,
        ]))
        let linear = try Linear(p, base.shape[1], base.shape[0])
        linear.adapter = try LoRABasis(p, inFeatures: base.shape[1], outFeatures: base.shape[0], config: config)
        let query = try f.input("query")
        try f.check("y", linear(try f.input("x"), query: query))
        try f.check("coeffs", linear.adapter!.coefficients(query))
        let merged = linear.adapter!.merged(into: linear.weight, coefficients: linear.adapter!.coefficients(query))
        try f.check("y", linear(try f.input("x"), adapters: .mergedWeights([ObjectIdentifier(linear.adapter!): merged])))
    }
}
