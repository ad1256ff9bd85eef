import Foundation
import Testing
@testable import Formats
import Tensor
import TestSupport

// The .npy fixtures were written by np.save (tools/fixtures/make_format_fixtures.py).

@Test func readsNumpyFloatArrays() throws {
    let f32 = try NPY.read(Fixtures.formats("array_f32.npy"))   // arange(24) * 0.5 - 3, shape (2, 3, 4)
    #expect(f32.shape == [2, 3, 4] && f32.toArray() == (0..<24).map { Float($0) * 0.5 - 3 })
    let f64 = try NPY.read(Fixtures.formats("array_f64.npy"))
    #expect(f64.toArray() == [Float(1.0 / 3), -2.5, Float(1e-40), .infinity, 0.1])   // 1e300 overflows float32
    let f16 = try NPY.read(Fixtures.formats("array_f16.npy"))   // arange(6, f16) / f16(3)
    #expect(f16.shape == [3, 2] && f16.toArray() == (0..<6).map { Float(Float16($0) / Float16(3)) })
    let scalar = try NPY.read(Fixtures.formats("scalar_f32.npy"))
    #expect(scalar.shape == [] && scalar.item() == -7.25)
}

@Test func rejectsFortranOrderAndBigEndian() throws {
    let e1 = formatError { _ = try NPY.read(Fixtures.formats("fortran.npy")) }
    #expect(e1?.problem.contains("Fortran-order") == true)
    let e2 = formatError { _ = try NPY.read(Fixtures.formats("bigendian.npy")) }
    #expect(e2?.problem.contains("big-endian data ('>f4')") == true)
}

@Test(arguments: [[Int](), [5], [2, 3], [2, 0, 4], [1, 2, 3, 4, 5]])
func writeThenReadRoundTrips(shape: [Int]) throws {
    let path = try scratchFolder() + "/a.npy"
    let t = Tensor(shape: shape, data: (0..<Shape.count(shape)).map { Float($0) * 0.25 - 1 })
    try NPY.write(t, to: path)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    #expect((10 + headerLength) % 64 == 0 && bytes[10 + headerLength - 1] == UInt8(ascii: "\n"))
    let back = try NPY.read(path)
    #expect(back.shape == shape && back.toArray() == t.toArray())
}

@Test func truncatedOrForeignNpyIsANamedError() throws {
    let folder = try scratchFolder()
    let path = folder + "/t.npy"
    try NPY.write(Tensor(shape: [4], data: [1, 2, 3, 4]), to: path)
    let full = try Data(contentsOf: URL(fileURLWithPath: path))
    try AtomicFile.write(full.prefix(full.count - 3), to: path)
    let e1 = formatError { _ = try NPY.read(path) }
    #expect(e1?.path == path && e1?.problem.contains("data holds 13 bytes but shape [4] of '<f4' needs 16") == true)
    try AtomicFile.write(Data("hello".utf8), to: folder + "/x.npy")
    #expect(formatError { _ = try NPY.read(folder + "/x.npy") }?.problem.contains("not an NPY file") == true)
}
