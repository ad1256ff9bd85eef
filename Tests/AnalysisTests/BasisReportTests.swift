import Foundation
import Testing
import Formats
import Models
import Tensor
@testable import Analysis

@Suite struct BasisReportTests {
    @Test func analysesEveryLayerOfAnAdapterFile() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/formats/adapter_tiny.safetensors").path
        let file = try SafetensorsFile(path: path)
        let layers = try BasisReport.analyse(file)
        #expect(layers.count == 3)
        // Each layer agrees with the factors computed directly.
        let source = ReleaseAdapterKeys(file)
        for layer in layers {
            let a = try source.tensorIfPresent("transformer.\(layer.key).lora_A")!, b = try source.tensorIfPresent("transformer.\(layer.key).lora_B")!
            let f = try LayerFactors(loraA: a, loraB: b, scale: 1)
            #expect(layer.gram == f.gram().toArray() && layer.inFeatures == a.shape[1] && layer.outFeatures == b.shape[2])
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("basis-\(UUID().uuidString)").path
        try BasisReport.write(layers, to: out)
        #expect(try NPY.read(out + "/gram.npy").shape == [3, 4, 4])
        #expect(try NPY.read(out + "/element_spectra.npy").shape == [3, 4, 2])
        let csv = try String(contentsOfFile: out + "/layers.csv", encoding: .utf8)
        #expect(csv.split(whereSeparator: \.isNewline).count == 4 && csv.hasPrefix("index,name,block,in,out"))
    }

    @Test func aFileWithoutABasisIsAnError() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/formats/tensors_f32.safetensors").path
        #expect(throws: FormatError.self) { try BasisReport.analyse(try SafetensorsFile(path: path)) }
    }
}
