import Tensor

// Bit equality: what determinism, resume and round-trip tests mean by "the same".

/// Bit for bit, except that any NaN equals any NaN.
public func sameBits(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

/// Same count and `sameBits` element by element.
public func sameBits(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { sameBits($0, $1) } }

/// Same shape and `sameBits` element by element.
public func sameBits(_ a: Tensor, _ b: Tensor) -> Bool { a.shape == b.shape && sameBits(a.toArray(), b.toArray()) }
