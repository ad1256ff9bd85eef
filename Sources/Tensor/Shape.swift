// Shapes are plain [Int] in row-major order. These helpers compute element counts, strides and
// broadcast shapes; the throwing variants are what user-facing code calls so that a mismatch
// becomes an error message naming both shapes instead of a trap.

/// A shape or argument mismatch detected before any work is done.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum Shape {
    /// Number of elements of a shape (1 for a scalar `[]`).
    @inlinable public static func count(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n *= d }
        return n
    }

    /// Row-major strides in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// NumPy broadcasting of two shapes: align right, each pair equal or one of them 1.
    public static func broadcast(_ a: [Int], _ b: [Int], op: String = "broadcast") throws -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else {
                throw ShapeError("\(op): shapes \(a) and \(b) cannot be broadcast together (axis \(i): \(da) vs \(db))")
            }
        }
        return out
    }

    /// Resolves a possibly negative axis against a rank.
    public static func axis(_ axis: Int, rank: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < max(rank, 1), "axis \(axis) out of range for rank \(rank)")
        return a
    }

    /// Splits `shape` around `axis` into (outer, size, inner) element counts.
    static func around(_ shape: [Int], axis: Int) -> (outer: Int, size: Int, inner: Int) {
        (count(Array(shape[..<axis])), shape[axis], count(Array(shape[(axis + 1)...])))
    }

    /// Checks the shapes of `a @ b` (after optional transposes of the last two axes) and returns
    /// (batch shape, M, K, N).
    public static func matmul(_ a: [Int], _ b: [Int], transposeA: Bool = false, transposeB: Bool = false) throws
        -> (batch: [Int], m: Int, k: Int, n: Int)
    {
        guard a.count >= 2, b.count >= 2 else {
            throw ShapeError("matmul: operands must have rank >= 2, got \(a) and \(b)")
        }
        let (m, ka) = transposeA ? (a[a.count - 1], a[a.count - 2]) : (a[a.count - 2], a[a.count - 1])
        let (kb, n) = transposeB ? (b[b.count - 1], b[b.count - 2]) : (b[b.count - 2], b[b.count - 1])
        guard ka == kb else {
            throw ShapeError("matmul: inner dimensions differ: \(a)\(transposeA ? "^T" : "") @ \(b)\(transposeB ? "^T" : "") (\(ka) vs \(kb))")
        }
        let ba = Array(a.dropLast(2)), bb = Array(b.dropLast(2))
        guard ba == bb || bb.isEmpty || ba.isEmpty else {
            throw ShapeError("matmul: batch dimensions differ: \(a) @ \(b) (batch \(ba) vs \(bb))")
        }
        return (ba.isEmpty ? bb : ba, m, ka, n)
    }
}
