import Testing
@testable import Formats
import Tensor
import TestSupport

// Format detection and adapter geometry, from headers alone.

@Test func tinyAdapterFixtureIsRecognisedWithItsGeometry() throws {
    let s = SafetensorsSummary(try SafetensorsFile(path: Fixtures.formats("adapter_tiny.safetensors")))
    #expect(s.layout == .lorwebAdapter && s.layout.title == "lorweb-adapter (LoRWeB release layout)")
    #expect(sizes(s.adapter) == [3, 4, 2, 8, 12] && s.adapter?.problems == [])
    #expect(s.tensors == 12 && s.dtypes.map(\.dtype) == [.f16])
    // per layer n*in*r + n*r*out + n*kdim + kdim*qdim; (in, out) = (16, 16), (64, 16), (80, 16)
    let expected = [(16, 16), (64, 16), (80, 16)].reduce(0) { $0 + 4 * $1.0 * 2 + 4 * 2 * $1.1 + 4 * 8 + 8 * 12 }
    #expect(s.parameters == expected)
}

/// [layers, n, r, kdim, qdim]
private func sizes(_ g: AdapterGeometry?) -> [Int]? { g.map { [$0.layers, $0.n, $0.r, $0.kdim, $0.qdim] } }

/// Summary of a file holding zero tensors of the given names and shapes.
private func summary(_ tensors: [(String, [Int])]) throws -> SafetensorsSummary {
    let path = try scratchFolder() + "/s.safetensors"
    try Safetensors.write(tensors.map { ($0.0, Tensor.zeros($0.1)) }, dtype: .bf16, to: path)
    return SafetensorsSummary(try SafetensorsFile(path: path))
}

@Test func inferenceSpellingWithoutPrefixIsAnAdapterToo() throws {
    let s = try summary([
        ("transformer_blocks.0.attn.to_k.att_lora_A", [3, 5, 2]), ("transformer_blocks.0.attn.to_k.att_lora_B", [3, 2, 5]),
        ("transformer_blocks.0.attn.to_k.att_lora_keys", [3, 4]), ("transformer_blocks.0.attn.to_k.att_lora_to_q.weight", [4, 6]),
    ])
    #expect(s.layout == .lorwebAdapter && sizes(s.adapter) == [1, 3, 2, 4, 6] && s.adapter?.problems == [])
}

@Test func inconsistentAdapterIsReportedNotRejected() throws {
    let s = try summary([
        ("a.lora_A", [3, 5, 2]), ("a.lora_keys", [3, 4]), ("a.att_lora_to_q.weight", [4, 6]),
        ("b.lora_A", [3, 5, 4]), ("b.lora_keys", [3, 4]), ("b.att_lora_to_q.weight", [4, 6]), ("stray.bias", [2]),
    ])
    #expect(s.adapter?.problems == ["layers disagree on r: 2, 4", "2 layer(s) have no lora_B", "1 tensor(s) are not adapter parameters"])
}

@Test func modelLayoutsByKeyNames() throws {
    #expect(try summary([("x_embedder.weight", [4, 2]), ("transformer_blocks.0.attn.to_q.weight", [4, 4])]).layout == .diffusersFlux)
    #expect(try summary([("transformer.single_transformer_blocks.3.proj_out.weight", [2, 2])]).layout == .diffusersFlux)
    #expect(try summary([("vision_model.embeddings.class_embedding", [4]), ("visual_projection.weight", [2, 4])]).layout == .clipVision)
    let plain = try summary([("w", [2, 3]), ("b", [])])
    #expect(plain.layout == .plain && plain.parameters == 7 && plain.adapter == nil)
}
