import Foundation
import Testing
import Tensor
@testable import Models
import TestSupport

// The real Flux.1-Kontext-dev transformer and the release's adapter file, by name and shape, as
// tools/fixtures/make_release_manifest.py read them off diffusers (meta tensors: nothing is allocated).

@Suite struct ManifestTests {
    struct Manifest: Decodable {
        struct Adapter: Decodable { let n: Int, r: Int, kdim: Int, qdim: Int, layers: Int, parameters: Int }
        let adapter: Adapter
        let transformer: [String: [Int]]
        let adapter_tensors: [String: [Int]]
        let transformer_parameters: Int
    }

    @Test func flux1KontextDevMatchesDiffusersAndTheRelease() throws {
        let url = fixturesRoot.appendingPathComponent("manifests/flux1-kontext-dev.json")
        let m = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url))

        let base = Parameters.meta()
        let model = try FluxTransformer(base, config: .flux1KontextDev)
        let ours = Dictionary(uniqueKeysWithValues: base.all.map { ($0.key, $0.tensor.shape) })
        #expect(Set(ours.keys) == Set(m.transformer.keys),
                "missing: \(Set(m.transformer.keys).subtracting(ours.keys).sorted().prefix(5)), extra: \(Set(ours.keys).subtracting(m.transformer.keys).sorted().prefix(5))")
        for (k, shape) in m.transformer where ours[k] != nil { #expect(ours[k] == shape, "\(k): \(ours[k]!) vs \(shape)") }
        #expect(base.all.reduce(0) { $0 + $1.tensor.count } == m.transformer_parameters)

        let config = LoRABasisConfig(n: 32, r: 4, keysDim: 128, queryDim: 3 * 768)
        let adapters = try LoRWeBAdapters(Parameters.meta(), attachingTo: model, config: config)
        let adapterShapes = Dictionary(uniqueKeysWithValues: adapters.namedParameters.map { ($0.key, $0.tensor.shape) })
        #expect(adapters.layers.count == 494 && m.adapter.layers == 494)
        #expect(adapterShapes == m.adapter_tensors)
        #expect(adapters.parameterCount == 835_051_520 && m.adapter.parameters == 835_051_520)
    }

    /// Kohya's underscored names map back to every Linear of the real transformer, blocks or not.
    @Test func kohyaNamesMapBackToEveryLinearOfFlux1() throws {
        let url = fixturesRoot.appendingPathComponent("manifests/flux1-kontext-dev.json")
        let m = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url))
        let modules = m.transformer.filter { $0.key.hasSuffix(".weight") && $0.value.count == 2 }.keys.map { String($0.dropLast(".weight".count)) }
        #expect(modules.count > 494)
        let names = KohyaNames(modules.map { "lora_unet_" + $0.replacingOccurrences(of: ".", with: "_") + ".lora_down.weight" })
        for module in modules { #expect(names.map[module.replacingOccurrences(of: ".", with: "_")] == module, "\(module)") }
    }
}
