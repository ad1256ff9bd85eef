import Foundation

/// Reference-counted Float32 buffer, 64-byte aligned when we own it. Several tensors may share
/// one storage (reshape views, axis-0 slices of a loaded file); they never write to a shared
/// buffer except through explicit in-place updates (optimizer steps).
public final class Storage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let capacity: Int
    private let keepAlive: AnyObject?

    /// Allocates `capacity` uninitialised floats.
    public init(capacity: Int) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1) * 4, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(capacity, 1))
        self.capacity = capacity
        keepAlive = nil
    }

    /// Wraps memory owned by `owner` (for example a memory-mapped file) without copying.
    public init(borrowing base: UnsafeMutablePointer<Float>, capacity: Int, owner: AnyObject) {
        self.base = base
        self.capacity = capacity
        keepAlive = owner
    }

    deinit { if keepAlive == nil { UnsafeMutableRawPointer(base).deallocate() } }
}

/// An n-dimensional Float32 array, contiguous and row-major, with optional reverse-mode autograd.
///
/// A tensor that `requiresGrad` records the operation that made it; `backward()` on a scalar
/// result walks those records in reverse and accumulates `grad` into every leaf that requires
/// gradients. Frozen tensors (the default) record nothing and cost nothing in backward.
///
/// ```swift
/// let w = Tensor.randn([4, 3], rng: &rng); w.requiresGrad = true
/// let loss = (x.matmul(w)).square().mean()
/// loss.backward()   // w.grad now holds d loss / d w
/// ```
public final class Tensor: CustomStringConvertible {
    public let shape: [Int]
    public let count: Int
    public let storage: Storage
    public let offset: Int

    /// Whether gradients flow to this tensor. Set it on leaves (parameters); results of
    /// operations inherit it from their inputs while grad mode is on.
    public var requiresGrad = false
    /// Accumulated gradient of a leaf after `backward()`; `nil` until then.
    public var grad: Tensor?
    /// The operation that produced this tensor, while the graph is alive.
    var node: Node?

    public init(shape: [Int], storage: Storage, offset: Int = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        let n = Shape.count(shape)
        precondition(offset + n <= storage.capacity, "tensor of shape \(shape) exceeds its storage")
        self.shape = shape
        self.count = n
        self.storage = storage
        self.offset = offset
    }

    /// An uninitialised tensor; every kernel that uses this writes all elements.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.count = Shape.count(shape)
        self.storage = Storage(capacity: count)
        self.offset = 0
    }

    public convenience init(shape: [Int], data: [Float]) {
        precondition(Shape.count(shape) == data.count, "shape \(shape) needs \(Shape.count(shape)) values, got \(data.count)")
        self.init(uninitialized: shape)
        data.withUnsafeBufferPointer { src in
            if let b = src.baseAddress { self.data.update(from: b, count: data.count) }
        }
    }

    public convenience init(_ scalar: Float) { self.init(shape: [], data: [scalar]) }

    public var rank: Int { shape.count }
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.base + offset }

    public static func zeros(_ shape: [Int]) -> Tensor { full(shape, 0) }
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.initialize(repeating: value, count: t.count)
        return t
    }

    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single value of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item() needs one element, shape is \(shape)")
        return data[0]
    }

    /// Element at a full multi-index (for tests and small reads, not hot loops).
    public subscript(_ index: Int...) -> Float {
        precondition(index.count == rank, "index \(index) has wrong rank for shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            flat = flat * d + i
        }
        return data[flat]
    }

    /// An independent copy that does not record into the graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// The same values, cut from the graph (no gradient flows through).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, offset: offset) }

    public var description: String {
        let head = toArray().prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", ..." : "")]\(requiresGrad ? ", grad" : ""))"
    }
}
