import Foundation
import Testing
@testable import Tensor
import TestSupport

@Suite struct LinalgTests {
    static let shapes: [[Int]] = [[50, 12], [12, 50], [30, 30], [1, 7], [7, 1]]

    @Test(arguments: shapes) func svdReconstructs(shape: [Int]) throws {
        var rng = TestRNG(UInt64(shape[0] * 100 + shape[1]))
        let a = rng.tensor(shape)
        let (u, s, vt) = try Linalg.svd(a)
        let (m, n, k) = (shape[0], shape[1], min(shape[0], shape[1]))
        let uu = try #require(u), v = try #require(vt)
        #expect(uu.shape == [m, k] && s.shape == [k] && v.shape == [k, n])

        let sv = s.toArray()
        #expect(zip(sv, sv.dropFirst()).allSatisfy { $0 >= $1 } && sv.last! >= 0, "not descending: \(sv)")
        // U diag(s) Vt == A.
        let us = Tensor(shape: [m, k], data: (0..<(m * k)).map { uu.data[$0] * sv[$0 % k] })
        #expect(maxDiff(product(us, v), a) < 1e-5)
        #expect(identityError(product(uu, uu, transposeA: true), k) < 1e-5)
        #expect(identityError(product(v, v, transposeB: true), k) < 1e-5)
        // Frobenius norm is preserved: sum s^2 == ||A||_F^2.
        let frob = a.toArray().reduce(0.0) { $0 + Double($1) * Double($1) }
        let ss = sv.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(ss - frob) <= 1e-5 * frob)

        let valuesOnly = try Linalg.svd(a, computeVectors: false)
        #expect(valuesOnly.u == nil && valuesOnly.vt == nil)
        #expect(maxAbsDiff(valuesOnly.s, s) <= 1e-5 * sv[0])
    }

    @Test func svdOfKnownMatrix() throws {
        // Columns scaled by 3 and -2 of an orthonormal pair: singular values exactly 3 and 2.
        let a = Tensor(shape: [3, 2], data: [0, -2, 3, 0, 0, 0])
        let (u, s, vt) = try Linalg.svd(a)
        #expect(maxAbsDiff(s, Tensor(shape: [2], data: [3, 2])) < 1e-6)
        // First left vector is ±e1, first right vector ±e0.
        #expect(abs(abs(u![1, 0]) - 1) < 1e-6 && abs(abs(vt![0, 0]) - 1) < 1e-6)
    }

    @Test func svdOfRankDeficientMatrix() throws {
        // Rank 2: A = x1 y1ᵀ + x2 y2ᵀ, so 8 of the 10 singular values vanish.
        var rng = TestRNG(5)
        let x = rng.tensor([20, 2]), y = rng.tensor([2, 10])
        let a = x.matmul(y)
        let (u, s, _) = try Linalg.svd(a)
        #expect(s.toArray()[2...].allSatisfy { $0 < 1e-5 * s.toArray()[0] })
        #expect(identityError(product(u!, u!, transposeA: true), 10) < 1e-5)
    }

    @Test func singularValuesMatchEigenvaluesOfGram() throws {
        var rng = TestRNG(17)
        let a = rng.tensor([40, 9])
        let gram = Tensor(shape: [9, 9], data: product(a, a, transposeA: true).map(Float.init))
        let s = try Linalg.svd(a, computeVectors: false).s.toArray()
        let values = try Linalg.eigh(gram).values.toArray()
        // eigh is ascending, svd descending: s_i^2 == lambda_(n-1-i).
        let worst = zip(s, values.reversed()).map { abs(Double($0) * Double($0) - Double($1)) }.max()!
        #expect(worst <= 1e-5 * Double(s[0] * s[0]), "worst \(worst)")
    }

    @Test(arguments: [[50, 12], [20, 20], [5, 1], [1, 1]]) func qrReconstructs(shape: [Int]) throws {
        var rng = TestRNG(UInt64(shape[0] * 7 + shape[1]))
        let a = rng.tensor(shape)
        let (q, r) = try Linalg.qr(a)
        let n = shape[1]
        #expect(q.shape == shape && r.shape == [n, n])
        #expect(maxDiff(product(q, r), a) < 1e-5)
        #expect(identityError(product(q, q, transposeA: true), n) < 1e-5)
        for i in 0..<n { for j in 0..<i { #expect(r[i, j] == 0, "R[\(i), \(j)] = \(r[i, j])") } }
    }

    @Test func eighSolvesEigenproblem() throws {
        var rng = TestRNG(23)
        let b = rng.tensor([16, 16])
        let a = Tensor(shape: [16, 16], data: (0..<256).map { (b.data[$0] + b.data[($0 % 16) * 16 + $0 / 16]) / 2 })
        let (values, vectors) = try Linalg.eigh(a)
        let lambda = values.toArray()
        #expect(zip(lambda, lambda.dropFirst()).allSatisfy { $0 <= $1 }, "not ascending: \(lambda)")
        // A V == V diag(lambda): eigenvectors are the columns.
        let av = product(a, vectors)
        var worst = 0.0
        for i in 0..<16 { for j in 0..<16 { worst = max(worst, abs(av[i * 16 + j] - Double(vectors[i, j] * lambda[j]))) } }
        #expect(worst < 1e-5, "residual \(worst)")
        #expect(identityError(product(vectors, vectors, transposeA: true), 16) < 1e-5)

        // Only the lower triangle is read.
        let scribbled = a.copy()
        for i in 0..<16 { for j in (i + 1)..<16 { scribbled.data[i * 16 + j] = 1000 } }
        let scribbledValues = try Linalg.eigh(scribbled).values.toArray()
        #expect(scribbledValues == lambda)
    }

    @Test func eighOfKnownMatrix() throws {
        let (values, vectors) = try Linalg.eigh(Tensor(shape: [2, 2], data: [2, 1, 1, 2]))
        #expect(maxAbsDiff(values, Tensor(shape: [2], data: [1, 3])) < 1e-6)
        // Column 1 belongs to eigenvalue 3: ±(1, 1)/sqrt(2), so its entries share a sign.
        #expect(abs(vectors[0, 1] - vectors[1, 1]) < 1e-6 && abs(vectors[0, 0] + vectors[1, 0]) < 1e-6)
    }

    @Test func badInputThrowsNamingRoutineAndShape() {
        let withNaN = Tensor(shape: [3, 4], data: (0..<12).map { $0 == 6 ? .nan : Float($0) })
        expectError(LinalgError(operation: "svd", routine: "sgesdd", shape: [3, 4], reason: .nonFinite(row: 1, column: 2)),
                    "sgesdd", "[3, 4]") { _ = try Linalg.svd(withNaN) }
        let withInf = Tensor(shape: [2, 2], data: [1, 0, .infinity, 1])
        expectError(LinalgError(operation: "eigh", routine: "ssyevd", shape: [2, 2], reason: .nonFinite(row: 1, column: 0)),
                    "ssyevd", "[2, 2]") { _ = try Linalg.eigh(withInf) }
        expectError(LinalgError(operation: "qr", routine: "sgeqrf", shape: [2, 2], reason: .nonFinite(row: 1, column: 0)),
                    "qr", "[2, 2]") { _ = try Linalg.qr(withInf) }
        expectError(LinalgError(operation: "svd", routine: "sgesdd", shape: [5], reason: .notMatrix),
                    "sgesdd", "[5]") { _ = try Linalg.svd(Tensor.ones([5])) }
        expectError(LinalgError(operation: "qr", routine: "sgeqrf", shape: [2, 3, 4], reason: .notMatrix),
                    "qr", "[2, 3, 4]") { _ = try Linalg.qr(Tensor.ones([2, 3, 4])) }
        expectError(LinalgError(operation: "svd", routine: "sgesdd", shape: [0, 3], reason: .empty),
                    "sgesdd", "[0, 3]") { _ = try Linalg.svd(Tensor.zeros([0, 3])) }
        expectError(LinalgError(operation: "eigh", routine: "ssyevd", shape: [3, 4], reason: .notSquare),
                    "ssyevd", "[3, 4]") { _ = try Linalg.eigh(Tensor.ones([3, 4])) }
        expectError(LinalgError(operation: "qr", routine: "sgeqrf", shape: [3, 4], reason: .moreColumnsThanRows),
                    "qr", "[3, 4]") { _ = try Linalg.qr(Tensor.ones([3, 4])) }
    }

    @Test func lapackInfoIsExplained() {
        let illegal = LinalgError(operation: "svd", routine: "sgesdd", shape: [4, 4], reason: .illegalArgument(5))
        #expect(illegal.description == "svd (LAPACK sgesdd) on [4, 4]: LAPACK rejected argument 5 as illegal (info = -5)")
        let diverged = LinalgError(operation: "eigh", routine: "ssyevd", shape: [8, 8], reason: .notConverged(3))
        #expect(diverged.description == "eigh (LAPACK ssyevd) on [8, 8]: the algorithm did not converge (info = 3)")
    }
}

/// op(A) op(B) in Float64, row-major, so that checks add no float32 rounding of their own.
private func product(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> [Double] {
    let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == (transposeB ? b.shape[1] : b.shape[0]), "product: \(a.shape) vs \(b.shape)")
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for p in 0..<k {
            let x = Double(transposeA ? a.data[p * m + i] : a.data[i * k + p])
            for j in 0..<n { c[i * n + j] += x * Double(transposeB ? b.data[j * k + p] : b.data[p * n + j]) }
        }
    }
    return c
}

private func maxDiff(_ x: [Double], _ t: Tensor) -> Double {
    zip(x, t.toArray()).map { abs($0 - Double($1)) }.max() ?? 0
}

/// Largest |G - I| entry of a k×k Gram matrix.
private func identityError(_ g: [Double], _ k: Int) -> Double {
    (0..<(k * k)).map { abs(g[$0] - ($0 / k == $0 % k ? 1 : 0)) }.max() ?? 0
}

private func expectError(_ expected: LinalgError, _ mentions: String..., sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () throws -> Void)
{
    do {
        try body()
        Issue.record("expected \(expected)", sourceLocation: sourceLocation)
    } catch let error as LinalgError {
        #expect(error == expected, sourceLocation: sourceLocation)
        for word in mentions {
            #expect(error.description.contains(word), "\"\(error)\" does not mention \(word)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
