import Tensor

// Weights are checked when a model or adapter is loaded: one NaN or infinity in a file (a run
// that diverged before it was saved, a bad conversion) would otherwise spread silently through
// every output computed from it.

extension Tensor {
    /// The flat index of the first NaN or infinite element, or nil if every element is finite.
    public var firstNonFinite: Int? {
        let p = data
        for i in 0..<count where !p[i].isFinite { return i }
        return nil
    }

    /// What is wrong with a tensor holding non-finite values, for an error naming it.
    public func nonFiniteProblem(_ name: String) -> String? {
        nonFiniteProblem(what: "tensor '\(name)'")
    }

    /// The same for any `what` ("the coefficients").
    public func nonFiniteProblem(what: String) -> String? {
        firstNonFinite.map { "\(what) holds \(data[$0]) at element \($0) of \(shape); non-finite values are refused" }
    }
}

extension SafetensorsFile {
    /// The tensor `name` as model or adapter weights: stored in a floating-point dtype and
    /// holding only finite values, else a `FormatError` naming the file and the tensor.
    public func weight(_ name: String, cache: Bool = true) throws -> Tensor {
        if let dtype = info(name)?.dtype, ![.f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2].contains(dtype) {
            throw FormatError(path, "tensor '\(name)' is stored as \(dtype.rawValue); weights must be a floating-point dtype")
        }
        let t = try tensor(name, cache: cache)
        if let problem = t.nonFiniteProblem(name) { throw FormatError(path, problem) }
        return t
    }
}
