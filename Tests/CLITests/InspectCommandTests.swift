import Foundation
import Testing
@testable import Formats
import TestSupport

// Runs the built `lorweb` binary.

private func lorweb(_ arguments: String...) throws -> Run {
    try CLI.run(arguments, threads: nil)
}

@Test func inspectAdapterAsText() throws {
    let run = try lorweb("inspect", Fixtures.formats("adapter_tiny.safetensors"))
    #expect(run.status == 0 && run.stderr.isEmpty)
    #expect(run.stdout.contains("format          lorweb-adapter (LoRWeB release layout)"))
    #expect(run.stdout.contains("adapted layers  3") && run.stdout.contains("n 4, r 2, kdim 8, qdim 12"))
    #expect(run.stdout.contains("dtypes          F16 x 12"))
}

@Test func inspectJSONIsOneObjectWithTheContractKeys() throws {
    let run = try lorweb("inspect", "--json", Fixtures.formats("adapter_tiny.safetensors"))
    #expect(run.status == 0)
    let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    #expect(object?["format"] as? String == "lorweb-adapter")
    #expect(object?["tensors"] as? Int == 12 && object?["adapted_layers"] as? Int == 3)
    #expect(object?["n"] as? Int == 4 && object?["r"] as? Int == 2 && object?["kdim"] as? Int == 8 && object?["qdim"] as? Int == 12)
    #expect((object?["parameters"] as? Int ?? 0) > 0)
}

@Test func inspectFolderReportsEachFileAndTotals() throws {
    let run = try lorweb("inspect", "--json", Fixtures.root.appendingPathComponent("formats").path)
    #expect(run.status == 0)
    let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let files = object?["files"] as? [[String: Any]] ?? []
    #expect(object?["format"] as? String == "folder" && files.count == 4)
    #expect(object?["tensors"] as? Int == files.reduce(0) { $0 + ($1["tensors"] as? Int ?? 0) })
}

/// LoRAs written by diffusers and PEFT themselves (tools/fixtures/make_lora_fixtures.py) are LoRAs, not
/// a Flux transformer or a plain file, with their ranks and alpha (from the file's metadata or the
/// folder's adapter_config.json).
@Test func inspectRecognisesDiffusersAndPEFTLoRAs() throws {
    let lora = Fixtures.root.appendingPathComponent("lora").path
    let diffusers = try lorweb("inspect", "--json", lora + "/diffusers/pytorch_lora_weights.safetensors")
    #expect(diffusers.status == 0, "\(diffusers.stderr)")
    let d = try JSONSerialization.jsonObject(with: Data(diffusers.stdout.utf8)) as? [String: Any]
    #expect(d?["format"] as? String == "diffusers-lora" && d?["adapted_layers"] as? Int == 2)
    #expect(d?["rank_min"] as? Int == 4 && d?["rank_max"] as? Int == 4 && d?["lora_alpha"] as? Double == 8)
    #expect(d?["alpha_source"] as? String == "lora_adapter_metadata" && d?["parameters"] as? Int == 4096)

    let peft = try lorweb("inspect", lora + "/peft")
    #expect(peft.status == 0, "\(peft.stderr)")
    #expect(peft.stdout.contains("format          peft-lora") && peft.stdout.contains("adapted layers  2"))
    #expect(peft.stdout.contains("rank            2 to 6") && peft.stdout.contains("lora_alpha      3 from adapter_config.json"))
    #expect(peft.stdout.contains("dtypes          F32 x 4"))

    let kohya = try lorweb("inspect", lora + "/set/p-kohya.safetensors")
    #expect(kohya.status == 0, "\(kohya.stderr)")
    #expect(kohya.stdout.contains("format          kohya-lora") && kohya.stdout.contains("adapted layers  3")
            && kohya.stdout.contains("rank            2 to 4") && kohya.stdout.contains("lora_alpha      4 to 16 from .alpha tensors"))
}

/// A sharded PEFT folder (an index and five shards, as PEFT writes them) is one model, with what
/// its adapter_config.json says; a diffusers folder's config.json is reported with its sizes.
@Test func inspectReadsAShardedFolderAsOneModelWithItsConfigs() throws {
    let lora = Fixtures.root.appendingPathComponent("lora").path
    let sharded = try lorweb("inspect", lora + "/set/p-sharded")
    #expect(sharded.status == 0, "\(sharded.stderr)")
    #expect(sharded.stdout.hasPrefix(lora + "/set/p-sharded\n") && !sharded.stdout.contains("total:"))
    #expect(sharded.stdout.contains("format          peft-lora") && sharded.stdout.contains("in 5 shards"))
    #expect(sharded.stdout.contains("tensors         6") && sharded.stdout.contains("parameters      5,120"))
    #expect(sharded.stdout.contains("adapted layers  3") && sharded.stdout.contains("rank            2 to 4"))
    #expect(sharded.stdout.contains("adapter_config  LORA, r 4, lora_alpha 4, target_modules 3 (transformer_blocks.0.attn.to_q,"))
    #expect(sharded.stdout.contains("rank_pattern 1, alpha_pattern 1, base FluxTransformer2DModel"))

    let json = try lorweb("inspect", "--json", lora + "/set/p-sharded")
    let o = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect(o?["format"] as? String == "peft-lora" && o?["shards"] as? Int == 5 && o?["tensors"] as? Int == 6)
    #expect(o?["dtypes"] as? [String: Int] == ["F32": 6] && o?["lora_alpha"] as? Double == 4)
    let config = o?["adapter_config"] as? [String: Any]
    #expect(config?["r"] as? Int == 4 && (config?["target_modules"] as? [String])?.count == 3)

    let base = Fixtures.inRepository("models/small-world/base")
    let flux = try lorweb("inspect", base)
    #expect(flux.status == 0, "\(flux.stderr)")
    #expect(flux.stdout.contains("config.json     diffusers FluxTransformer2DModel (in_channels 192,"))
}

@Test(arguments: ["truncated-mid-header", "unknown-dtype", "overlapping"])
func inspectBadFileExitsOneWithOneLine(_ name: String) throws {
    let bad = try #require(badFiles.first { $0.name == name })
    let path = try scratchFolder() + "/\(name).safetensors"
    try AtomicFile.write(bad.bytes, to: path)
    let run = try lorweb("inspect", path)
    #expect(run.status == 1 && run.stdout.isEmpty)
    #expect(run.stderr.hasPrefix("lorweb: \(path): ") && run.stderr.contains(bad.expected))
    #expect(run.stderr.filter { $0 == "\n" }.count == 1, "one line: \(run.stderr)")
    #expect(!run.stderr.contains("Fatal error") && !run.stderr.contains("Error:"))
}

@Test func inspectMissingPathExitsOne() throws {
    let run = try lorweb("inspect", "/nonexistent/x.safetensors")
    #expect(run.status == 1 && run.stderr == "lorweb: /nonexistent/x.safetensors: no such file or folder\n")
}

@Test func inspectRunFolderReadsItsConfig() throws {
    let run = try scratchFolder()
    try FileManager.default.copyItem(atPath: Fixtures.formats("adapter_tiny.safetensors"), toPath: run + "/adapters.safetensors")
    let config = #"{"adapter": {"n": 4, "r": 2, "kdim": 8, "qdim": 12, "heads": 1, "softmax": true, "mixing": "mean", "scale": 1},"#
        + #" "query_mode": "cat-aa'b", "base": {"num_layers": 2, "num_single_layers": 4}, "info": {"steps": "300"}}"#
    try AtomicFile.write(Data(config.utf8), to: run + "/lorweb.json")
    let text = try lorweb("inspect", run)
    #expect(text.status == 0 && text.stdout.contains("lorweb run") && text.stdout.contains("query cat-aa'b"))
    #expect(text.stdout.contains("Flux 2 double + 4 single blocks") && text.stdout.contains("300"))
    let json = try lorweb("inspect", "--json", run)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect(object?["format"] as? String == "lorweb-run" && object?["n"] as? Int == 4 && object?["adapted_layers"] as? Int == 3)

    try AtomicFile.write(Data("{".utf8), to: run + "/lorweb.json")
    let bad = try lorweb("inspect", run)
    #expect(bad.status == 1 && bad.stderr.hasPrefix("lorweb: \(run)/lorweb.json: not a lorweb run config"))
}
