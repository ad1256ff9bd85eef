import Foundation
import Testing
import Formats
import Models
import Tensor
@testable import Analysis
import TestSupport

/// A file of Tests/Fixtures/formats.
func formatsFixture(_ name: String) -> String {
    Fixtures.formats(name)
}

@Suite struct BasisReportTests {
    @Test func analysesEveryLayerOfAnAdapterFile() throws {
        let path = formatsFixture("adapter_tiny.safetensors")
        let stream = try AdapterStream(model: path, mixing: false)
        let file = stream.file
        let layers = try BasisReport.analyse(stream)
        #expect(layers.count == 3)
        // Each layer agrees with the factors computed directly.
        let source = ReleaseAdapterKeys(file)
        for layer in layers {
            let a = try source.tensorIfPresent("transformer.\(layer.key).lora_A")!, b = try source.tensorIfPresent("transformer.\(layer.key).lora_B")!
            let f = try LayerFactors(loraA: a, loraB: b, scale: 1)
            #expect(layer.gram == f.gram().toArray() && layer.inFeatures == a.shape[1] && layer.outFeatures == b.shape[2])
        }
        let out = scratchPath("basis")
        try BasisReport.write(layers, to: out)
        #expect(try NPY.read(out + "/gram.npy").shape == [3, 4, 4])
        #expect(try NPY.read(out + "/element_spectra.npy").shape == [3, 4, 2])
        let csv = try String(contentsOfFile: out + "/layers.csv", encoding: .utf8)
        #expect(csv.split(whereSeparator: \.isNewline).count == 4 && csv.hasPrefix("index,name,block,in,out"))
    }

    @Test func aFileWithoutABasisIsAnError() throws {
        let path = formatsFixture("tensors_f32.safetensors")
        #expect(throws: FormatError.self) { try AdapterStream(model: path, mixing: false) }
    }
}

@Suite struct MixedSpectraTests {
    @Test func matchesDenseSVDForEveryLayerAndCoefficientKind() throws {
        let path = formatsFixture("adapter_tiny.safetensors")
        let stream = try AdapterStream(model: path, mixing: false)
        let source = stream.source
        let perLayer = Tensor(shape: [3, 4], data: [0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25])
        for coefficients in [MixingCoefficients.uniform, .onehot(2), .array(perLayer)] {
            let values = try BasisReport.mixedSpectra(stream, coefficients: coefficients)
            let layers = stream.layers
            #expect(values.shape == [3, 8])
            for (i, key) in layers.enumerated() {
                let a = try source.tensorIfPresent("transformer.\(key).lora_A")!, b = try source.tensorIfPresent("transformer.\(key).lora_B")!
                let alpha = try coefficients.vector(layer: i, of: 3, n: 4)
                var w = Tensor.zeros([a.shape[1], b.shape[2]])
                for j in 0..<4 {
                    w = w + a.sliced(axis: 0, j..<(j + 1)).reshaped([a.shape[1], 2]).matmul(b.sliced(axis: 0, j..<(j + 1)).reshaped([2, b.shape[2]])) * alpha[j]
                }
                let dense = try Linalg.svd(w, computeVectors: false).s.toArray()
                for (t, d) in zip(values.toArray()[(i * 8)..<(i * 8 + 8)], dense) { #expect(abs(t - d) <= 1e-4 * max(1, dense[0])) }
            }
        }
        #expect(throws: FormatError.self) { try BasisReport.mixedSpectra(stream, coefficients: .onehot(4)) }
        #expect(throws: FormatError.self) { try BasisReport.mixedSpectra(stream, coefficients: .array(Tensor.zeros([2, 4]))) }
    }
}
