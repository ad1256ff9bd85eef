import Tensor

// Construction is loading: every layer pulls its tensors by upstream key from a `Parameters`
// scope while it is built, so the set of keys a model creates is, by construction, the set it
// saves, loads and optimises. A scope either reads a checkpoint (shape-checked) or initialises
// fresh tensors the way PyTorch does, and it records every key it hands out.

/// Anything that can provide tensors by full dotted key (a safetensors file, a dictionary).
public protocol TensorSource {
    /// All keys the source holds.
    var keys: [String] { get }
    /// The shape stored under `key` without reading the data, or nil when absent.
    func shape(of key: String) -> [Int]?
    /// The tensor stored under `key`, converted to Float32, or nil when absent.
    func tensorIfPresent(_ key: String) throws -> Tensor?
}

/// An in-memory tensor source.
public struct TensorDictionary: TensorSource {
    public var tensors: [String: Tensor]
    public init(_ tensors: [String: Tensor]) { self.tensors = tensors }
    public var keys: [String] { tensors.keys.sorted() }
    public func shape(of key: String) -> [Int]? { tensors[key]?.shape }
    public func tensorIfPresent(_ key: String) throws -> Tensor? { tensors[key] }
}

/// How a fresh parameter is initialised (PyTorch's defaults for each upstream layer type).
public enum Initializer {
    case zeros
    case ones
    case normal(std: Float)
    /// U(-bound, bound).
    case uniform(bound: Float)
}

/// A missing, misshapen or unplaced checkpoint tensor.
public struct LoadError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A scope of parameter keys (`transformer_blocks.0.attn`) over one shared registry.
public struct Parameters {
    final class Registry {
        var source: TensorSource?
        var rng: RNG
        let meta: Bool
        var created: [(key: String, tensor: Tensor)] = []
        var seen: Set<String> = []
        var problems: [String] = []
        init(source: TensorSource?, rng: RNG, meta: Bool = false) { self.source = source; self.rng = rng; self.meta = meta }
    }

    /// Backing of meta tensors: shapes without memory. Reading one is a bug.
    static let metaStorage: Storage = {
        final class Token {}
        let p = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: Float.self, capacity: 16)
        return Storage(borrowing: p, capacity: Int.max, owner: Token())
    }()

    let registry: Registry
    public let prefix: String

    /// Parameters read from `source` by key (shape-checked).
    public static func loading(from source: TensorSource) -> Parameters {
        Parameters(registry: Registry(source: source, rng: RNG(seed: 0)), prefix: "")
    }

    /// Fresh parameters initialised from `seed` (deterministic: same seed, same bits).
    public static func initialising(seed: UInt64) -> Parameters {
        Parameters(registry: Registry(source: nil, rng: RNG(seed: seed)), prefix: "")
    }

    /// Shape-only parameters (like PyTorch's meta device): builds a model of any size, for
    /// checking names and shapes, without allocating or initialising anything.
    public static func meta() -> Parameters {
        Parameters(registry: Registry(source: nil, rng: RNG(seed: 0), meta: true), prefix: "")
    }

    /// The sub-scope `name` (`a.b` joined with dots; integers for list items, as PyTorch numbers them).
    public func scoped(_ name: String) -> Parameters {
        Parameters(registry: registry, prefix: prefix.isEmpty ? name : prefix + "." + name)
    }
    public func scoped(_ index: Int) -> Parameters { scoped(String(index)) }

    func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// The tensor `name` of this scope with the given shape: read from the source when loading,
    /// otherwise freshly initialised. A missing or misshapen tensor is recorded (and stood in for
    /// by a meta tensor) so that one `validate` reports every problem of a checkpoint at once.
    public func callAsFunction(_ name: String, _ shape: [Int], _ initializer: Initializer) throws -> Tensor {
        let k = key(name)
        precondition(!registry.seen.contains(k), "parameter \(k) created twice")
        let t: Tensor
        if registry.meta {
            t = Tensor(shape: shape, storage: Parameters.metaStorage)
        } else if let source = registry.source {
            if let stored = source.shape(of: k), stored == shape, let loaded = try source.tensorIfPresent(k) {
                t = loaded
            } else {
                let found = source.shape(of: k).map { "has shape \($0)" } ?? "is missing"
                registry.problems.append("\(k) \(found), expected \(shape)")
                t = Tensor(shape: shape, storage: Parameters.metaStorage)
            }
        } else {
            switch initializer {
            case .zeros: t = Tensor.zeros(shape)
            case .ones: t = Tensor.ones(shape)
            case .normal(let std): t = registry.rng.normal(shape, mean: 0, std: std)
            case .uniform(let bound): t = registry.rng.uniform(shape, low: -bound, high: bound)
            }
        }
        registry.seen.insert(k)
        registry.created.append((k, t))
        return t
    }

    /// Every parameter created through this registry, in creation order, with its full key.
    public var all: [(key: String, tensor: Tensor)] { registry.created }

    /// Source keys no layer asked for (a checkpoint for another architecture, a typo in a key map).
    public var unusedKeys: [String] {
        guard let source = registry.source else { return [] }
        return source.keys.filter { !registry.seen.contains($0) }
    }

    /// Throws one error listing every missing or misshapen tensor, and every unused source key
    /// not matched by `ignoring` (prefixes of keys that are expected to be left over).
    public func validate(ignoring unusedPrefixes: [String] = []) throws {
        let unused = unusedKeys.filter { k in !unusedPrefixes.contains { k.hasPrefix($0) } }
        guard registry.problems.isEmpty && unused.isEmpty else {
            func list(_ items: [String]) -> String {
                items.prefix(8).joined(separator: "; ") + (items.count > 8 ? "; ... (\(items.count) in all)" : "")
            }
            var parts: [String] = []
            if !registry.problems.isEmpty { parts.append("\(registry.problems.count) tensors missing or misshapen: \(list(registry.problems))") }
            if !unused.isEmpty { parts.append("\(unused.count) unexpected tensors: \(list(unused))") }
            throw LoadError(parts.joined(separator: "; "))
        }
    }

    /// Builds a model from `source` and validates the result: every parameter present with its
    /// shape and, unless `ignoring` says otherwise, no tensor left over.
    public static func load<M>(from source: TensorSource, ignoring unusedPrefixes: [String] = [],
                               _ build: (Parameters) throws -> M) throws -> M
    {
        let p = Parameters.loading(from: source)
        let model = try build(p)
        try p.validate(ignoring: unusedPrefixes)
        return model
    }
}
