import Foundation
import Testing
@testable import Formats
import Tensor
import TestSupport

// Reading the Python-written fixtures (tools/fixtures/make_format_fixtures.py) and round trips through
// our writer. Malformed files are in SafetensorsBadInputTests.

@Test func readsPythonF32FixtureWithMetadataAndOddShapes() throws {
    let file = try SafetensorsFile(path: Fixtures.formats("tensors_f32.safetensors"))
    #expect(file.names == ["cube", "empty", "matrix", "scalar", "specials", "vector"])
    #expect(file.metadata["generator"] == "tools/make_format_fixtures.py" && file.metadata["dtype"] == "F32")
    #expect(file.metadata["fixture_version"] == "1", "fixtures changed format: rerun tools/fixtures/make_format_fixtures.py")
    let scalar = try file.tensor("scalar")
    #expect(scalar.shape == [] && scalar.item() == 2.5)
    let empty = try file.tensor("empty")
    #expect(empty.shape == [0, 3] && empty.count == 0)
    // np.arange(15).reshape(3, 5) / 7 in float32
    let matrix = try file.tensor("matrix")
    #expect(matrix.shape == [3, 5] && matrix[2, 4] == Float(14) / 7)
    #expect(file.info("cube")?.dtype == .f32 && file.info("cube")?.shape == [2, 3, 4])
}

@Test(arguments: ["f16", "bf16"])
func readsPythonHalfFixturesAsRoundedSource(dtype: String) throws {
    let file = try SafetensorsFile(path: Fixtures.formats("tensors_\(dtype).safetensors"))
    #expect(file.metadata["dtype"] == dtype.uppercased())
    for (name, source) in try fixtureSource() {
        let t = try file.tensor(name)
        #expect(t.shape == source.shape, "\(name)")
        // numpy rounded the f16 file; Swift's Float16 is the independent reference here.
        // The bf16 file was rounded by the script's own bit arithmetic, so this checks ours against it.
        let expected = source.toArray().map { dtype == "f16" ? Float(Float16($0)) : HalfFloat.float(fromBF16: HalfFloat.bf16(from: $0)) }
        #expect(sameBits(t.toArray(), expected), "\(name): \(t.toArray()) vs \(expected)")
    }
}

@Test func float32TensorsAreZeroCopyAndHalfTensorsCached() throws {
    let f32 = try SafetensorsFile(path: Fixtures.formats("tensors_f32.safetensors"))
    #expect(try f32.tensor("cube").storage.base == f32.tensor("cube").storage.base)
    let f16 = try SafetensorsFile(path: Fixtures.formats("tensors_f16.safetensors"))
    #expect(try f16.tensor("cube").storage === f16.tensor("cube").storage)
}

@Test func writingIntoALoadedTensorNeverChangesTheFile() throws {
    let folder = try scratchFolder()
    let path = folder + "/w.safetensors"
    try Safetensors.write(["w": Tensor(shape: [4], data: [1, 2, 3, 4])], to: path)
    do {
        let t = try SafetensorsFile(path: path).tensor("w")   // zero-copy, file released after this line
        t.data[0] = 99                                          // an optimizer step, say
        #expect(t.toArray() == [99, 2, 3, 4])
    }
    #expect(try SafetensorsFile(path: path).tensor("w").toArray() == [1, 2, 3, 4])
}

@Test func missingTensorNamesFileAndTensor() throws {
    let path = Fixtures.formats("tensors_f32.safetensors")
    let e = formatError { _ = try SafetensorsFile(path: path).tensor("nope") }
    #expect(e?.path == path && e?.problem.contains("'nope'") == true)
}

@Test(arguments: [SafetensorsDType.f32, .f16, .bf16])
func writeThenReadRoundTrips(dtype: SafetensorsDType) throws {
    let folder = try scratchFolder()
    let source = try fixtureSource()
    let path = folder + "/out.safetensors"
    try Safetensors.write(source, dtype: dtype, metadata: ["k": "v", "ü": "\"quoted\"\n"], to: path)
    let back = try SafetensorsFile(path: path)
    #expect(back.metadata == ["k": "v", "ü": "\"quoted\"\n"])
    #expect(back.names == source.keys.sorted())
    for (name, t) in source {
        #expect(back.info(name)?.dtype == dtype)
        let expected = t.toArray().map { x -> Float in
            switch dtype {
            case .f16: Float(Float16(x))
            case .bf16: HalfFloat.float(fromBF16: HalfFloat.bf16(from: x))
            default: x
            }
        }
        #expect(try sameBits(back.tensor(name).toArray(), expected), "\(name)")
        #expect(try back.tensor(name).shape == t.shape)
    }
    // Nothing but the file itself is left in the folder (no temporary files).
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["out.safetensors"])
}

@Test func writerIsDeterministicAndPadsTheHeader() throws {
    let folder = try scratchFolder()
    let tensors = try fixtureSource()
    try Safetensors.write(tensors, metadata: ["b": "2", "a": "1"], to: folder + "/1.safetensors")
    try Safetensors.write(tensors.map { ($0.key, $0.value) }.reversed(), metadata: ["a": "1", "b": "2"], to: folder + "/2.safetensors")
    let one = try Data(contentsOf: URL(fileURLWithPath: folder + "/1.safetensors"))
    #expect(one == (try Data(contentsOf: URL(fileURLWithPath: folder + "/2.safetensors"))))
    let headerLength = Int(one.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    #expect(headerLength % 8 == 0)
    let header = String(decoding: one[8..<(8 + headerLength)], as: UTF8.self)
    #expect(header.hasPrefix(#"{"__metadata__":{"a":"1","b":"2"},"cube":{"dtype":"F32","shape":[2,3,4],"data_offsets":[0,96]}"#))
}

@Test func writerRejectsDuplicateAndReservedNamesAndOtherDtypes() throws {
    let folder = try scratchFolder()
    let t = Tensor(shape: [1], data: [0])
    let e1 = formatError { try Safetensors.write([("a", t), ("a", t)], to: folder + "/d.safetensors") }
    #expect(e1?.problem.contains("'a' appears twice") == true)
    let e2 = formatError { try Safetensors.write([("__metadata__", t)], to: folder + "/m.safetensors") }
    #expect(e2?.problem.contains("reserved") == true)
    let e3 = formatError { try Safetensors.write([("a", t)], dtype: .i64, to: folder + "/i.safetensors") }
    #expect(e3?.problem.contains("I64") == true)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
}

@Test func otherDtypesLoadAsFloat() throws {
    // Hand-made file: I64 [-2, 3], U8 [0, 255], BOOL [1, 0], F64 [0.1], E4M3 [0x38 = 1.0, 0x7F = NaN].
    var data: [UInt8] = []
    for v: Int64 in [-2, 3] { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
    data += [0, 255, 1, 0]
    withUnsafeBytes(of: (0.1 as Double).bitPattern.littleEndian) { data += $0 }
    data += [0x38, 0x7F]
    let header = #"{"i":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"u":{"dtype":"U8","shape":[2],"data_offsets":[16,18]},"b":{"dtype":"BOOL","shape":[2],"data_offsets":[18,20]},"d":{"dtype":"F64","shape":[],"data_offsets":[20,28]},"e":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[28,30]}}"#
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
    let path = try scratchFolder() + "/mixed.safetensors"
    try AtomicFile.write(bytes + Array(header.utf8) + data, to: path)
    let file = try SafetensorsFile(path: path)
    #expect(try file.tensor("i").toArray() == [-2, 3])
    #expect(try file.tensor("u").toArray() == [0, 255])
    #expect(try file.tensor("b").toArray() == [1, 0])
    #expect(try file.tensor("d").toArray() == [Float(0.1)])
    let e = try file.tensor("e").toArray()
    #expect(e[0] == 1 && e[1].isNaN)
}
