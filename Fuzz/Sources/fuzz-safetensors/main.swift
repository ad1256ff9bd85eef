import Foundation
import Formats

// The parser works on a memory mapping, so every input goes through a real file: that also
// covers the open/fstat/mmap path the CLI takes. /dev/shm keeps it in memory.
let path = "/dev/shm/lorweb-fuzz-safetensors-\(getpid()).safetensors"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot create \(path)") }
    guard write(fd, data, size) == size else { fatalError("short write to \(path)") }
    close(fd)
    guard let file = try? SafetensorsFile(path: path) else { return 0 }
    _ = SafetensorsSummary(file)
    // Decoding reads every byte the header points at: out-of-range offsets would show here.
    for info in file.tensors where info.count <= 1 << 16 {
        _ = try? file.tensor(info.name, cache: false)
    }
    return 0
}
