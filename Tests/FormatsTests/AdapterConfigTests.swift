import Testing
@testable import Formats
import TestSupport

// config.yaml is the release's ai-toolkit config as its trainer saves it (see tools/fixtures/make_format_fixtures.py).

@Test func readsTheReleaseConfig() throws {
    let c = try LoRWeBAdapterConfig.load(Fixtures.formats("config.yaml"))
    #expect(c == LoRWeBAdapterConfig(
        r: 4, alpha: 4, n: 32, keysDim: 128, heads: 1, coefficients: .softmax, mixing: .mean,
        poolingType: "avg", queryProjectionType: "linear", queryMode: "cat-aa'b",
        externalQuery: true, externalQueryModel: "openai/clip-vit-large-patch14"))
}

private let minimal = """
    config:
      process:
      - network:
          linear: 2
          linear_alpha: 1.5
          network_kwargs:
            loras_num: 8
            lora_keys_dim: 64
            lora_heads: 2
            lora_softmax: "False"
            mixing_coeffs_type: sum
            pooling_type: max
            query_projection_type: none
            query_mode: ca'-ca
            external_query: false
    """

@Test func readsVariantsAndOptionalEncoder() throws {
    let c = try LoRWeBAdapterConfig(yaml: minimal, path: "m.yaml")
    #expect(c.coefficients == .tanh && c.mixing == .sum && c.alpha == 1.5 && c.heads == 2)
    #expect(c.queryMode == "ca'-ca" && c.externalQuery == false && c.externalQueryModel == nil)
}

@Test(arguments: [
    ("loras_num: 8", "", "m.yaml: config.process[0].network.network_kwargs.loras_num: missing"),
    ("loras_num: 8", "loras_num: eight", "m.yaml: config.process[0].network.network_kwargs.loras_num: expected an integer, found the string 'eight'"),
    ("linear: 2", "linear: 0", "m.yaml: config.process[0].network.linear: expected a positive integer, found 0"),
    ("lora_heads: 2", "lora_heads: 3", "m.yaml: config.process[0].network.network_kwargs.lora_heads: 3 heads do not divide lora_keys_dim 64"),
    ("mixing_coeffs_type: sum", "mixing_coeffs_type: max", "m.yaml: config.process[0].network.network_kwargs.mixing_coeffs_type: 'max' is not one of mean, sum"),
    ("external_query: false", "external_query: 3", "m.yaml: config.process[0].network.network_kwargs.external_query: expected true or false, found the integer 3"),
    ("  process:", "  process: []\n  old:", "m.yaml: config.process[0]: missing (the list is empty)"),
    ("config:", "config: [", "m.yaml: not valid YAML"),
])
func configErrorsNameTheField(find: String, replace: String, expected: String) throws {
    let text = minimal.replacingOccurrences(of: find, with: replace)
    let e = formatError { _ = try LoRWeBAdapterConfig(yaml: text, path: "m.yaml") }
    #expect(e?.description.hasPrefix(expected) == true, "got: \(e?.description ?? "nothing")")
    #expect(e?.description.contains("\n") == false)
}
