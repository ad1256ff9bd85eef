import Foundation
import Testing
import Formats
import TestSupport

// `lorweb lora` and `lorweb export-lora` end to end through the binary; the libraries they use are
// tested in AnalysisTests (OrdinaryLoRATests, ExportLoRATests).

private let set = Fixtures.path("lora/set")

/// The command end to end: every output, the notes on stdout, and the arrays' shapes.
@Test func loraCommandWritesTablesArraysAndFigures() throws {
    let out = scratchPath("lora")
    defer { try? FileManager.default.removeItem(atPath: out) }
    let run = try CLI.run(["lora", set + "/p-peft", set + "/q.safetensors", set + "/r.safetensors", "--out", out])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("note: 1 layer(s) are not adapted by every LoRA and are left out of the comparison: transformer_blocks.0.attn.to_v"))
    #expect(run.stdout.contains("p-peft: peft-lora, 3 layers, rank 2-4"))
    for file in ["layers.csv", "spectra.npy", "similarity.csv", "similarity.npy", "similarity_layers.npy", "layers.txt", "pca.csv",
                 "pca_variance.csv", "similarity.png", "similarity.svg", "pca.png", "pca.svg"] {
        #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file) missing")
    }
    #expect(try NPY.read(out + "/spectra.npy").shape == [8, 4])
    let similarity = try NPY.read(out + "/similarity.npy")
    #expect(similarity.shape == [3, 3] && (0..<3).allSatisfy { abs(similarity[$0, $0] - 1) < 1e-6 })
    #expect(try NPY.read(out + "/similarity_layers.npy").shape == [2, 3, 3])
    let table = try String(contentsOfFile: out + "/layers.csv", encoding: .utf8).split(whereSeparator: \.isNewline)
    #expect(table.first == "lora,layer,rank,in,out,alpha,scale,frobenius,effective_rank,dtype" && table.count == 9)
}

@Suite struct ExportLoRACommandTests {
    func json(_ text: String?) -> [String: Any] {
        (text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]) ?? [:]
    }

    /// Through the binary on the shipped run (n 32, r 4): the stored dtype, the LoraConfig in the
    /// file's metadata and in a PEFT folder's adapter_config.json, provenance, and the rank
    /// recorded and printed being the rank the tensors have.
    @Test func exportRecordsDtypeConfigProvenanceAndItsTrueRank() throws {
        let root = Fixtures.repository
        let model = root.appendingPathComponent("models/small-world/lorweb").path
        let dir = try scratchFolder("export")
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let big = try CLI.run(["export-lora", "--model", model, "--coeffs", "uniform", "--rank", "1000", "--dtype", "bf16", "--out", dir + "/big.safetensors"])
        #expect(big.status == 0, "\(big.stderr)")
        #expect(big.stdout.contains("(rank 128, exact; --rank 1000 exceeds n*r, bf16)"), "\(big.stdout)")
        let file = try SafetensorsFile(path: dir + "/big.safetensors")
        #expect(file.names.count == 104 && file.names.allSatisfy { file.info($0)?.dtype == .bf16 })
        #expect(file.info("transformer.transformer_blocks.0.attn.to_q.lora_A.weight")?.shape == [128, 256])
        #expect(file.metadata["rank"] == "128" && file.metadata["lorweb_requested_rank"] == "1000" && file.metadata["lorweb_model"] == model)
        let meta = json(file.metadata["lora_adapter_metadata"])
        #expect(meta["transformer.r"] as? Int == 128 && meta["transformer.lora_alpha"] as? Int == 128 && meta["transformer.peft_type"] as? String == "LORA")
        #expect((meta["transformer.target_modules"] as? [String])?.count == 52 && meta["transformer.task_type"] is NSNull)
        #expect((meta["transformer.base_model_name_or_path"] as? String)?.hasSuffix("models/small-world/base") == true)
        let coefficients = json(file.metadata["lorweb_coefficients"])
        #expect(coefficients["layers"] as? Int == 52 && coefficients["n"] as? Int == 32)
        #expect(((coefficients["mean_over_layers"] as? [Double]) ?? []).allSatisfy { abs($0 - 1.0 / 32) < 1e-6 })
        #expect(!FileManager.default.fileExists(atPath: dir + "/big.errors.csv"))

        let cut = try CLI.run(["export-lora", "--model", model, "--coeffs", "uniform", "--rank", "3", "--dtype", "f16", "--out", dir + "/peft"])
        #expect(cut.status == 0, "\(cut.stderr)")
        #expect(cut.stdout.contains("(rank 3, f16)"), "\(cut.stdout)")
        // --peft writes the same folder, beside a diffusers file from the same run.
        let both = try CLI.run(["export-lora", "--model", model, "--coeffs", "uniform", "--rank", "3", "--dtype", "f16",
                                "--out", dir + "/cut.safetensors", "--peft", dir + "/peft2"])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(both.stdout.contains("-> \(dir)/cut.safetensors and \(dir)/peft2 (rank 3, f16)"), "\(both.stdout)")
        for name in ["adapter_model.safetensors", "adapter_config.json", "errors.csv"] {
            #expect(FileManager.default.contents(atPath: dir + "/peft/" + name) == FileManager.default.contents(atPath: dir + "/peft2/" + name), "\(name)")
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/cut.errors.csv"))
        let weights = try SafetensorsFile(path: dir + "/peft/adapter_model.safetensors")
        #expect(weights.names.count == 104 && weights.names.allSatisfy { $0.hasPrefix("base_model.model.") && weights.info($0)?.dtype == .f16 })
        #expect(weights.info("base_model.model.transformer_blocks.0.attn.to_q.lora_A.weight")?.shape == [3, 256])
        let config = json(try String(contentsOfFile: dir + "/peft/adapter_config.json", encoding: .utf8))
        #expect(config["r"] as? Int == 3 && config["lora_alpha"] as? Int == 3 && config["peft_type"] as? String == "LORA" && config["task_type"] is NSNull)
        #expect((config["target_modules"] as? [String])?.count == 52)
        #expect(FileManager.default.fileExists(atPath: dir + "/peft/errors.csv"))
    }
}
