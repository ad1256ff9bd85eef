import CBLAS
import CLAPACKE

// Dense factorisations for the analysis tools (SVD of LoRA cores, PCA, thin QR of stacked
// factors), through LAPACKE in Float32. None of them records autograd.
//
// LAPACK is column-major and our tensors are row-major. A row-major buffer read as column-major
// is the transpose, which is free to factor instead when that keeps LAPACK on a fast path: the
// SVD of Aᵀ is the SVD of A with U and Vᵀ swapped, and a symmetric matrix is its own transpose.
// But the transpose of a tall matrix is wide, and LAPACK's wide path (LQ first) runs about 2x
// slower than its tall path (QR first) with this OpenBLAS: 21 ms against 11 ms for a 3072x128
// sgesdd, 16 ms against 8 ms for a 3072x128 QR. So tall inputs are transposed into column-major
// with OpenBLAS's somatcopy (a fraction of a millisecond) and the factors transposed back.
//
// All three run OpenBLAS on one thread (lorweb keeps it so, see `Runtime`): a second thread gave
// no clear gain for any of them here (QR got 25-35% slower); analysis tools parallelise over layers.

/// A linear-algebra routine refused its input or LAPACK reported a failure.
public struct LinalgError: Error, CustomStringConvertible, Equatable {
    public enum Reason: Equatable, Sendable {
        /// The input is not a rank-2 tensor.
        case notMatrix
        /// The input has a zero dimension.
        case empty
        /// `eigh` needs a square matrix.
        case notSquare
        /// `qr` needs at least as many rows as columns.
        case moreColumnsThanRows
        /// A dimension does not fit LAPACK's 32-bit integers.
        case tooLarge
        /// The first NaN or infinity, by row-major position; LAPACK's behaviour on them is undefined.
        case nonFinite(row: Int, column: Int)
        /// LAPACK rejected argument `i` (info = -i): a bug in this wrapper, not in the caller.
        case illegalArgument(Int)
        /// LAPACKE could not allocate its workspace.
        case outOfMemory
        /// The iteration did not converge (info > 0, the routine-specific count LAPACK returned).
        case notConverged(Int)
    }

    /// The operation the caller asked for: "svd", "eigh" or "qr".
    public let operation: String
    /// The LAPACK routine that failed, or would have been called.
    public let routine: String
    /// Shape of the input tensor.
    public let shape: [Int]
    public let reason: Reason

    public init(operation: String, routine: String, shape: [Int], reason: Reason) {
        self.operation = operation
        self.routine = routine
        self.shape = shape
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch reason {
        case .notMatrix: what = "expected a rank-2 tensor (a matrix)"
        case .empty: what = "the matrix is empty"
        case .notSquare: what = "expected a square matrix"
        case .moreColumnsThanRows: what = "thin QR needs rows >= columns"
        case .tooLarge: what = "a dimension exceeds LAPACK's 32-bit index range"
        case let .nonFinite(row, column): what = "NaN or infinity at [\(row), \(column)]"
        case let .illegalArgument(i): what = "LAPACK rejected argument \(i) as illegal (info = -\(i))"
        case .outOfMemory: what = "LAPACKE could not allocate its workspace"
        case let .notConverged(i): what = "the algorithm did not converge (info = \(i))"
        }
        return "\(operation) (LAPACK \(routine)) on \(shape): \(what)"
    }
}

/// Float32 matrix factorisations of row-major rank-2 tensors. Inputs are never modified.
public enum Linalg {
    /// Thin singular value decomposition A = U diag(s) Vᵀ by divide and conquer (`sgesdd`).
    ///
    /// - Parameters:
    ///   - a: matrix [m, n] with finite values.
    ///   - computeVectors: false skips U and Vᵀ (about twice as fast) and returns them as nil.
    /// - Returns: `u` [m, k] with orthonormal columns, `s` [k] descending and non-negative,
    ///   `vt` [k, n] with orthonormal rows, where k = min(m, n). Singular vectors are unique only
    ///   up to sign (and rotation within repeated singular values).
    public static func svd(_ a: Tensor, computeVectors: Bool = true) throws -> (u: Tensor?, s: Tensor, vt: Tensor?) {
        let (m, n) = try validate(a, "svd", "sgesdd")
        let k = min(m, n)
        let jobz = CChar(UInt8(ascii: computeVectors ? "S" : "N"))
        let s = Tensor(uninitialized: [k])
        let u = computeVectors ? Tensor(uninitialized: [m, k]) : nil
        let vt = computeVectors ? Tensor(uninitialized: [k, n]) : nil
        let info: Int32
        if m > n {
            // Tall: factor a column-major copy of A. Column-major U [m, k] and Vᵀ [k, n] are
            // row-major [k, m] and [n, k] buffers, transposed into place afterwards.
            let colA = transposed(a.data, rows: m, cols: n)
            let uCol = computeVectors ? Tensor(uninitialized: [k, m]) : nil
            let vtCol = computeVectors ? Tensor(uninitialized: [n, k]) : nil
            info = LAPACKE_sgesdd(LAPACK_COL_MAJOR, jobz, Int32(m), Int32(n), colA.data, Int32(m), s.data,
                                  uCol?.data, Int32(m), vtCol?.data, Int32(k))
            if info == 0, let u, let vt, let uCol, let vtCol {
                transpose(uCol.data, rows: k, cols: m, into: u.data)
                transpose(vtCol.data, rows: n, cols: k, into: vt.data)
            }
        } else {
            // Wide or square: the buffer read as column-major is Aᵀ [n, m], tall or square, so
            // LAPACK factors (a copy of) it as Aᵀ = U' S V'ᵀ, and A = V' S U'ᵀ. Column-major
            // U' [n, k] (ld n) is row-major Vᵀ [k, n], and column-major V'ᵀ [k, m] (ld k) is
            // row-major U [m, k]: LAPACK's "U" goes to our vt and its "VT" to our u.
            let work = a.copy()  // sgesdd destroys its input
            info = LAPACKE_sgesdd(LAPACK_COL_MAJOR, jobz, Int32(n), Int32(m), work.data, Int32(n), s.data,
                                  vt?.data, Int32(n), u?.data, Int32(k))
        }
        try check(info, "svd", "sgesdd", a.shape)
        return (u, s, vt)
    }

    /// Eigendecomposition of a real symmetric matrix A = V diag(values) Vᵀ by divide and
    /// conquer (`ssyevd`).
    ///
    /// Only the lower triangle of `a` (row-major, diagonal included) is read, as in
    /// `numpy.linalg.eigh`; the strict upper triangle is assumed to mirror it.
    ///
    /// - Returns: `values` [n] in ascending order and `vectors` [n, n] whose **columns** are the
    ///   orthonormal eigenvectors: `vectors[:, j]` belongs to `values[j]`.
    public static func eigh(_ a: Tensor) throws -> (values: Tensor, vectors: Tensor) {
        let (m, n) = try validate(a, "eigh", "ssyevd")
        guard m == n else { throw LinalgError(operation: "eigh", routine: "ssyevd", shape: a.shape, reason: .notSquare) }
        let vectors = a.copy()  // ssyevd overwrites the matrix with the eigenvectors
        let values = Tensor(uninitialized: [n])
        // Column-major reading of the row-major buffer is Aᵀ; its upper triangle is the lower
        // triangle of A.
        let info = LAPACKE_ssyevd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")),
                           Int32(n), vectors.data, Int32(n), values.data)
        try check(info, "eigh", "ssyevd", a.shape)
        // LAPACK wrote eigenvector j contiguously (column j in column-major), which is row j of the
        // row-major view: transpose in place to make the eigenvectors columns.
        let v = vectors.data
        for i in 0..<n {
            for j in (i + 1)..<n { swap(&v[i * n + j], &v[j * n + i]) }
        }
        return (values, vectors)
    }

    /// Thin QR decomposition A = Q R of a matrix with m >= n by Householder reflections
    /// (`sgeqrf`, then `sorgqr` to form Q).
    ///
    /// - Returns: `q` [m, n] with orthonormal columns and `r` [n, n] upper triangular (zeros below
    ///   the diagonal). As in LAPACK, the diagonal of R may be negative; when A has full column
    ///   rank the factorisation is unique up to those signs.
    public static func qr(_ a: Tensor) throws -> (q: Tensor, r: Tensor) {
        let (m, n) = try validate(a, "qr", "sgeqrf")
        guard m >= n else {
            throw LinalgError(operation: "qr", routine: "sgeqrf", shape: a.shape, reason: .moreColumnsThanRows)
        }
        // Column-major A (ld m), stored as a row-major [n, m] buffer: row j is column j of A.
        let work = transposed(a.data, rows: m, cols: n)
        var tau = [Float](repeating: 0, count: n)
        let factored = LAPACKE_sgeqrf(LAPACK_COL_MAJOR, Int32(m), Int32(n), work.data, Int32(m), &tau)
        try check(factored, "qr", "sgeqrf", a.shape)
        // R is the upper triangle of the first n rows: R[i, j] = work[j * m + i] for j >= i.
        let r = Tensor.zeros([n, n])
        let w = work.data, rd = r.data
        for j in 0..<n {
            for i in 0...j { rd[i * n + j] = w[j * m + i] }
        }
        let formed = LAPACKE_sorgqr(LAPACK_COL_MAJOR, Int32(m), Int32(n), Int32(n), work.data, Int32(m), &tau)
        try check(formed, "qr", "sorgqr", a.shape)
        let q = Tensor(uninitialized: [m, n])
        transpose(work.data, rows: n, cols: m, into: q.data)
        return (q, r)
    }

    /// Writes the transpose of the row-major [rows, cols] matrix `src` to `dst` as row-major
    /// [cols, rows], with OpenBLAS's blocked kernel (fast even in debug builds).
    private static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        cblas_somatcopy(CblasRowMajor, CblasTrans, Int32(rows), Int32(cols), 1, src, Int32(cols), dst, Int32(rows))
    }

    /// The transpose of the row-major [rows, cols] matrix at `src`, as a new [cols, rows] tensor.
    private static func transposed(_ src: UnsafePointer<Float>, rows: Int, cols: Int) -> Tensor {
        let t = Tensor(uninitialized: [cols, rows])
        transpose(src, rows: rows, cols: cols, into: t.data)
        return t
    }

    /// Checks that `a` is a non-empty, finite matrix LAPACK can index; returns (rows, columns).
    private static func validate(_ a: Tensor, _ operation: String, _ routine: String) throws -> (Int, Int) {
        func fail(_ reason: LinalgError.Reason) -> LinalgError {
            LinalgError(operation: operation, routine: routine, shape: a.shape, reason: reason)
        }
        guard a.rank == 2 else { throw fail(.notMatrix) }
        let (m, n) = (a.shape[0], a.shape[1])
        guard m > 0, n > 0 else { throw fail(.empty) }
        guard m <= Int(Int32.max), n <= Int(Int32.max) else { throw fail(.tooLarge) }
        let p = a.data
        for i in 0..<a.count where !p[i].isFinite { throw fail(.nonFinite(row: i / n, column: i % n)) }
        return (m, n)
    }

    /// Turns a LAPACKE return code into an error.
    private static func check(_ info: Int32, _ operation: String, _ routine: String, _ shape: [Int]) throws {
        if info == 0 { return }
        let reason: LinalgError.Reason
        switch info {
        case LAPACK_WORK_MEMORY_ERROR, LAPACK_TRANSPOSE_MEMORY_ERROR: reason = .outOfMemory
        case ..<0: reason = .illegalArgument(Int(-info))
        default: reason = .notConverged(Int(info))
        }
        throw LinalgError(operation: operation, routine: routine, shape: shape, reason: reason)
    }
}
