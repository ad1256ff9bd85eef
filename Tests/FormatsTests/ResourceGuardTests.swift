import Foundation
import Testing
@testable import Formats

// Sizes a file declares are checked against physical memory before anything is allocated.

/// A sparse safetensors file (no disk blocks for its data) whose one F16 tensor would need
/// more than physical memory as float32.
@Test func tensorLargerThanMemoryIsRefusedBeforeAllocating() throws {
    let count = MemoryBudget.physicalBytes / 4 + 1024
    let header = Data(#"{"big":{"dtype":"F16","shape":[\#(count)],"data_offsets":[0,\#(2 * count)]}}"#.utf8)
    var length = UInt64(header.count).littleEndian
    let path = try temporaryFolder() + "/sparse.safetensors"
    try AtomicFile.write(Data(bytes: &length, count: 8) + header, to: path)
    let fd = open(path, O_WRONLY)
    defer { unlink(path) }
    try #require(fd >= 0 && ftruncate(fd, off_t(8 + header.count + 2 * count)) == 0)
    close(fd)
    let file = try SafetensorsFile(path: path)
    let error = try #require(formatError { _ = try file.tensor("big") })
    #expect(error.problem.hasPrefix("tensor 'big' as float32 would need") && error.problem.contains("more than this machine's"))
}

@Test func imageDeclaringTooManyPixelsIsRefusedFromItsHeader() throws {
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in body {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return be(UInt32(data.count)) + body + be(~crc)
    }
    let png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", be(100_000) + be(100_000) + [8, 2, 0, 0, 0])
        + chunk("IDAT", [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
    let error = try #require(formatError { _ = try Image.decode(Data(png), path: "huge.png") })
    #expect(error.problem == "invalid PNG: image of 100000x100000 pixels exceeds the limit of \(Image.pixelLimit) pixels")
}
