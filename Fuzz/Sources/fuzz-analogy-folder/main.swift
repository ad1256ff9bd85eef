import Foundation
import Formats
import Pipeline

// One input is one analogy pair: [u32 LE n1][n1 bytes control strip][u32 LE n2][n2 bytes b']
// [caption: the rest]. The files are written into a folder in the release's layout under
// /dev/shm and read back through AnalogyFolder, as training reads them.
let root: String = {
    let root = "/dev/shm/lorweb-fuzz-analogy-\(getpid())"
    for sub in ["control", "target"] {
        try! FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
    }
    return root
}()

func put(_ bytes: UnsafeBufferPointer<UInt8>, _ name: String) {
    let fd = open(root + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0, write(fd, bytes.baseAddress, bytes.count) == bytes.count || bytes.isEmpty else { fatalError("cannot write \(name)") }
    close(fd)
}

func chunk(_ input: inout UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
    guard input.count >= 4 else { defer { input = UnsafeBufferPointer(rebasing: input[input.count...]) }; return input }
    let declared = Int(input[0]) | Int(input[1]) << 8 | Int(input[2]) << 16 | Int(input[3]) << 24
    let n = min(declared, input.count - 4)
    defer { input = UnsafeBufferPointer(rebasing: input[(4 + n)...]) }
    return UnsafeBufferPointer(rebasing: input[4..<(4 + n)])
}

// Without a use of its result the optimizer may delete the call.
@_optimize(none) func keep<T>(_ value: T) {}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = UnsafeBufferPointer(start: data, count: size)
    put(chunk(&input), "control/s.png")
    put(chunk(&input), "target/s.png")
    put(input, "target/s.txt")
    // A small resolution bounds the work per input; the bucket and crop logic is the same.
    guard let folder = try? AnalogyFolder(root, resolution: 64, divisibility: 16), folder.count == 1 else { return 0 }
    keep(try? folder.sample(0))
    return 0
}
