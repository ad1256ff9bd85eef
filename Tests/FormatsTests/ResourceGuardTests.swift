import Foundation
import Testing
import TestSupport
@testable import Formats

// Sizes a file declares are checked against the memory budget before anything is allocated.

/// A sparse safetensors file (no disk blocks for its data) whose one F16 tensor would need
/// more than the memory budget as float32.
@Test func tensorLargerThanMemoryIsRefusedBeforeAllocating() throws {
    let count = MemoryBudget.limit.bytes / 4 + 1024
    let header = Data(#"{"big":{"dtype":"F16","shape":[\#(count)],"data_offsets":[0,\#(2 * count)]}}"#.utf8)
    var length = UInt64(header.count).littleEndian
    let path = try scratchFolder() + "/sparse.safetensors"
    try AtomicFile.write(Data(bytes: &length, count: 8) + header, to: path)
    let fd = open(path, O_WRONLY)
    defer { unlink(path) }
    try #require(fd >= 0 && ftruncate(fd, off_t(8 + header.count + 2 * count)) == 0)
    close(fd)
    let file = try SafetensorsFile(path: path)
    let error = try #require(formatError { _ = try file.tensor("big") })
    #expect(error.problem.hasPrefix("tensor 'big' as float32 would need") && error.problem.contains("more than \(MemoryBudget.limit.source)"))
}

@Test func imageDeclaringTooManyPixelsIsRefusedFromItsHeader() throws {
    let png = pngDeclaring(width: 100_000, height: 100_000)
    let error = try #require(formatError { _ = try Image.decode(Data(png), path: "huge.png") })
    #expect(error.problem == "PNG image of 100000x100000 pixels exceeds the limit of \(Image.pixelLimit) pixels (raise it with --max-pixels or LORWEB_MAX_PIXELS)")
}
