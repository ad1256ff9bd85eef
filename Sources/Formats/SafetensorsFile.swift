import Foundation
import Tensor

/// A safetensors file opened by memory-mapping, with tensors loaded on demand.
///
/// Opening reads and validates only the header, so it costs the same for a 1 KB file and a
/// 2 GB checkpoint; the operating system pages tensor data in when a tensor is first used.
/// Float32 tensors whose data is 4-byte aligned are used in place, without a copy. Other types
/// are converted to float32 on first use and cached, so each tensor is converted once.
///
/// ```swift
/// let file = try SafetensorsFile(path: "adapter.safetensors")
/// for name in file.names { print(name, file.info(name)!.shape) }
/// let keys = try file.tensor("transformer.transformer_blocks.0.attn.to_q.lora_keys")
/// ```
///
/// Tensors keep the mapping alive after the `SafetensorsFile` is gone. The mapping is private
/// and copy-on-write: writing into a loaded tensor (an optimizer step on a resumed checkpoint)
/// changes only this process's copy, never the file. Like any mapping, it assumes no other
/// process truncates the file while it is open.
public final class SafetensorsFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// Size of the file in bytes.
    public let fileSize: Int
    /// The header's `__metadata__` (empty if absent).
    public let metadata: [String: String]
    /// Every tensor, sorted by name.
    public let tensors: [SafetensorsTensorInfo]

    private let mapping: Mapping
    private let dataStart: Int
    private let index: [String: Int]
    // Converted (non-float32 or misaligned) tensors; guarded by `lock` because callers may load
    // different tensors from several threads.
    private var converted: [String: Storage] = [:]
    private let lock = NSLock()

    /// Opens and validates `path`. Throws a `FormatError` naming the file and the first problem.
    public init(path: String) throws {
        self.path = path
        mapping = try Mapping(path: path)
        fileSize = mapping.length
        let header = try SafetensorsHeader(file: UnsafeRawBufferPointer(start: mapping.base, count: mapping.length), path: path)
        metadata = header.metadata
        tensors = header.tensors
        dataStart = header.dataStart
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// Tensor names, sorted.
    public var names: [String] { tensors.map(\.name) }

    /// Whether the file holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// Header information for `name`, or nil if the file has no such tensor.
    public func info(_ name: String) -> SafetensorsTensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor called `name` as float32 (see `SafetensorsDType` for how each type converts).
    /// Repeated calls return tensors that share storage. With `cache: false` a converted tensor
    /// is not kept (a pass over a whole checkpoint then holds one tensor at a time).
    public func tensor(_ name: String, cache: Bool = true) throws -> Tensor {
        guard let info = info(name) else {
            throw FormatError(path, "no tensor named '\(name)' (the file has \(tensors.count) tensors)")
        }
        let start = mapping.base + dataStart + info.dataOffsets.lowerBound
        if info.dtype == .f32, Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
            let floats = start.bindMemory(to: Float.self, capacity: info.count)
            return Tensor(shape: info.shape, storage: Storage(borrowing: floats, capacity: info.count, owner: mapping))
        }
        lock.lock()
        defer { lock.unlock() }
        if let cached = converted[name] { return Tensor(shape: info.shape, storage: cached) }
        try MemoryBudget.require(info.count * MemoryLayout<Float>.size, for: "tensor '\(name)' as float32", in: path)
        let storage = Storage(capacity: info.count)
        info.dtype.decode(start, into: storage.base, count: info.count)
        if cache { converted[name] = storage }
        return Tensor(shape: info.shape, storage: storage)
    }

    /// Every tensor, loaded, by name.
    public func allTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for info in tensors { out[info.name] = try tensor(info.name) }
        return out
    }
}

/// A whole file mapped private and copy-on-write; unmapped when the last tensor using it is gone.
private final class Mapping: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let length: Int

    init(path: String) throws {
        let (fd, status) = try openRegularFile(path)
        defer { close(fd) }
        length = Int(status.st_size)
        // mmap rejects length 0; such a file fails header validation anyway, so give it a
        // one-byte dummy region instead of a special case there.
        guard length > 0 else {
            base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
            return
        }
        // PROT_WRITE with MAP_PRIVATE: tensors expose mutable pointers, and an in-place update must
        // touch a private copy of the page rather than crash on a read-only one.
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FormatError(path, "cannot memory-map: \(errnoText())") }
        base = p
    }

    deinit {
        if length > 0 { munmap(base, length) } else { base.deallocate() }
    }
}
