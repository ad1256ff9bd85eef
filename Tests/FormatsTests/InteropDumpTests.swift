import Foundation
import Testing
@testable import Formats
import Tensor
import TestSupport

// Writes our versions of the fixtures for tools/fixtures/make_format_fixtures.py --check to verify with
// numpy and safetensors. Set LORWEB_DUMP_DIR to keep them:
//   LORWEB_DUMP_DIR=/tmp/lorweb-dump swift test --filter InteropDump
//   python3 tools/fixtures/make_format_fixtures.py --check /tmp/lorweb-dump
// Without the variable the files go to a temporary folder and are only read back here.

@Test func interopDumpWritesFilesPythonChecks() throws {
    let folder = try ProcessInfo.processInfo.environment["LORWEB_DUMP_DIR"] ?? scratchFolder()
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let source = try SafetensorsFile(path: Fixtures.formats("tensors_f32.safetensors"))
    for dtype in [SafetensorsDType.f32, .f16, .bf16] {
        var metadata = source.metadata
        metadata["dtype"] = dtype.rawValue
        let path = "\(folder)/swift_\(dtype.rawValue.lowercased()).safetensors"
        try Safetensors.write(try source.allTensors(), dtype: dtype, metadata: metadata, to: path)
        #expect(try SafetensorsFile(path: path).names == source.names)
    }
    for name in ["array_f32.npy", "array_f64.npy", "array_f16.npy", "scalar_f32.npy"] {
        let t = try NPY.read(Fixtures.formats(name))
        try NPY.write(t, to: "\(folder)/swift_\(name)")
        #expect(try NPY.read("\(folder)/swift_\(name)").toArray() == t.toArray())
    }
    try CSV.write(header: ["name", "value", "note"], rows: [
        ["plain", 1.5, "x"], ["comma,inside", 2, "say \"hi\""], ["multi\nline", .float(-0.25), ""], ["inf", .float(.infinity), "nan"],
    ], to: "\(folder)/swift_table.csv")
    try JSONFile.write(object: ["layers": 494, "name": "a/b \"c\"", "values": [1.5, -2, 0.1]], to: "\(folder)/swift_report.json")
}
