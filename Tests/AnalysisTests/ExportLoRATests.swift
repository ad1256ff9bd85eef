import Foundation
import Testing
import Formats
import Models
import Tensor
import TestSupport
@testable import Analysis

@Suite struct ExportLoRATests {
    func basis() throws -> LoRABasis {
        let p = Parameters.initialising(seed: 9)
        let b = try LoRABasis(p, inFeatures: 20, outFeatures: 14, config: LoRABasisConfig(n: 3, r: 2, keysDim: 4, queryDim: 5, scale: 1.5))
        var rng = RNG(seed: 2)
        let values = rng.normal(b.loraB.shape)
        b.loraB.data.update(from: values.data, count: values.count)   // B starts at zero; give it content
        return b
    }

    /// The torch-layout weight delta s * sum_i alpha_i (A_i B_i)^T [out, in], materialised.
    func dense(_ b: LoRABasis, _ alpha: [Float]) -> Tensor {
        var w = Tensor.zeros([14, 20])
        for i in 0..<3 {
            let a = b.loraA.sliced(axis: 0, i..<(i + 1)).reshaped([20, 2]), bb = b.loraB.sliced(axis: 0, i..<(i + 1)).reshaped([2, 14])
            w = w + a.matmul(bb).transposed() * (alpha[i] * 1.5)
        }
        return w
    }

    @Test func fullRankIsExactAndTruncationReportsItsError() throws {
        let b = try basis()
        let alpha: [Float] = [0.6, 0.3, 0.1]
        let exact = try ExportLoRA.layer("x", basis: b, alpha: alpha, rank: nil)
        #expect(exact.loraA.shape == [6, 20] && exact.loraB.shape == [14, 6] && exact.relativeError == 0)
        let w = dense(b, alpha)
        let rebuilt = exact.loraB.matmul(exact.loraA)
        var worst: Float = 0
        for i in 0..<w.count { worst = max(worst, abs(rebuilt.data[i] - w.data[i])) }
        #expect(worst < 1e-5)

        let cut = try ExportLoRA.layer("x", basis: b, alpha: alpha, rank: 2)
        #expect(cut.loraA.shape == [2, 20] && cut.loraB.shape == [14, 2])
        let approx = cut.loraB.matmul(cut.loraA)
        var err = 0.0, norm = 0.0
        for i in 0..<w.count {
            err += Double((approx.data[i] - w.data[i]) * (approx.data[i] - w.data[i]))
            norm += Double(w.data[i] * w.data[i])
        }
        #expect(abs((err / norm).squareRoot() - Double(cut.relativeError)) < 1e-4)
        #expect(cut.relativeError > 0)
    }

    @Test func writesPEFTKeys() throws {
        let b = try basis()
        let layer = try ExportLoRA.layer("transformer_blocks.0.attn.to_q", basis: b, alpha: [1, 0, 0], rank: nil)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(UUID().uuidString).safetensors").path
        try ExportLoRA.write([layer], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.names == ["transformer.transformer_blocks.0.attn.to_q.lora_A.weight", "transformer.transformer_blocks.0.attn.to_q.lora_B.weight"])
    }

    func json(_ text: String?) -> [String: Any] {
        (text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]) ?? [:]
    }

    /// Through the binary on the shipped run (n 32, r 4): the stored dtype, the LoraConfig in the
    /// file's metadata and in a PEFT folder's adapter_config.json, provenance, and the rank
    /// recorded and printed being the rank the tensors have.
    @Test func exportRecordsDtypeConfigProvenanceAndItsTrueRank() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let model = root.appendingPathComponent("models/small-world/lorweb").path
        let dir = NSTemporaryDirectory() + "lorweb-export-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
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
