import Foundation
import Testing
@testable import Tensor
import TestSupport

// Forward kernels against straightforward reference loops, broadcasting and batching included.

/// Reference matmul in Float64 on explicit index arithmetic.
func referenceMatmul(_ a: Tensor, _ b: Tensor, ta: Bool, tb: Bool) -> [Double] {
    let (m, k) = ta ? (a.shape[a.rank - 1], a.shape[a.rank - 2]) : (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let n = tb ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
    let batch = max(a.count / (m * k), b.count / (k * n))
    var out = [Double](repeating: 0, count: batch * m * n)
    for p in 0..<batch {
        let ao = a.rank == 2 ? 0 : p * m * k, bo = b.rank == 2 ? 0 : p * k * n
        for i in 0..<m { for j in 0..<n {
            var acc = 0.0
            for l in 0..<k {
                let av = a.data[ao + (ta ? l * m + i : i * k + l)]
                let bv = b.data[bo + (tb ? j * k + l : l * n + j)]
                acc += Double(av) * Double(bv)
            }
            out[p * m * n + i * n + j] = acc
        } }
    }
    return out
}

@Suite struct KernelTests {
    var rng = TestRNG(3)

    @Test mutating func matmulMatchesReference() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for (sa, sb) in [([7, 5], [5, 3]), ([3, 7, 5], [3, 5, 9]), ([2, 3, 7, 5], [5, 4]), ([6, 5], [2, 5, 4])] {
                let a = rng.tensor(ta ? sa.dropLast(2) + [sa[sa.count - 1], sa[sa.count - 2]] : sa)
                let b = rng.tensor(tb ? sb.dropLast(2) + [sb[sb.count - 1], sb[sb.count - 2]] : sb)
                let c = a.matmul(b, transposeA: ta, transposeB: tb)
                let ref = referenceMatmul(a, b, ta: ta, tb: tb)
                let err = zip(c.toArray(), ref).map { abs(Double($0) - $1) }.max()!
                #expect(err < 1e-5, "matmul \(sa) \(sb) ta=\(ta) tb=\(tb): max error \(err)")
            }
        }
    }

    @Test mutating func linearMatchesMatmulPlusBias() {
        let x = rng.tensor([2, 5, 6]), w = rng.tensor([4, 6]), b = rng.tensor([4])
        let y = x.linear(w, b)
        let ref = x.matmul(w, transposeB: true) + b
        #expect(y.shape == [2, 5, 4])
        #expect(maxAbsDiff(y, ref) < 1e-6)
    }

    @Test mutating func broadcastingAgainstIndexLoops() {
        let a = rng.tensor([2, 1, 4]), b = rng.tensor([3, 1])
        let c = a * b
        #expect(c.shape == [2, 3, 4])
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 {
            #expect(c[i, j, k] == a[i, 0, k] * b[j, 0])
        } } }
        let s = a - Tensor(2)
        #expect(s[1, 0, 3] == a[1, 0, 3] - 2)
    }

    @Test mutating func reductionsAgainstLoops() {
        let x = rng.tensor([3, 4, 5])
        let s = x.sum(axes: [0, 2])
        for j in 0..<4 {
            var acc: Float = 0
            for i in 0..<3 { for k in 0..<5 { acc += x[i, j, k] } }
            #expect(abs(s[j] - acc) < 1e-5)
        }
        let m = x.max(axis: 1)
        for i in 0..<3 { for k in 0..<5 {
            let col = (0..<4).map { x[i, $0, k] }
            #expect(m.values[i, k] == col.max()!)
            #expect(m.indices[i * 5 + k] == col.firstIndex(of: col.max()!)!)
        } }
        let v = x.variance(axes: [2], correction: 1)
        let row = (0..<5).map { Double(x[1, 2, $0]) }
        let mu = row.reduce(0, +) / 5
        let ref = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 4
        #expect(abs(Double(v[1, 2]) - ref) < 1e-5)
        #expect(abs(x.mean().item() - x.sum().item() / 60) < 1e-6)
    }

    @Test func longSumIsAccurate() {
        // 1e6 values of 0.1: naive sequential float summation drifts by ~1e3 ulps; blocks keep it close.
        let x = Tensor.full([1_000_000], 0.1)
        #expect(abs(x.sum().item() - 100_000) < 2)
    }

    @Test mutating func softmaxIsStableAndNormalised() {
        let x = Tensor(shape: [2, 3], data: [1000, 1001, 1002, -1000, 0, 1000])
        let y = x.softmax()
        #expect(y.toArray().allSatisfy { $0.isFinite })
        #expect(abs(y.sum(axis: 1)[0] - 1) < 1e-6)
        #expect(abs(y[0, 2] - Float(1 / (1 + exp(-1.0) + exp(-2.0)))) < 1e-6)
        let ls = x.logSoftmax()
        #expect(abs(ls[1, 2]) < 1e-6 && ls[1, 0] < -1999)
    }

    @Test mutating func normsAgainstFormula() {
        let x = rng.tensor([4, 8]), w = rng.tensor([8]), b = rng.tensor([8])
        let y = x.layerNorm(weight: w, bias: b, eps: 1e-5)
        let mean = x.mean(axis: 1, keepDims: true)
        let ref = (x - mean) * (x.variance(axes: [1], keepDims: true) + 1e-5).rsqrt() * w + b
        #expect(maxAbsDiff(y, ref) < 1e-5)
        let r = x.rmsNorm(weight: w, eps: 1e-6)
        let rref = x * (x.square().mean(axis: 1, keepDims: true) + 1e-6).rsqrt() * w
        #expect(maxAbsDiff(r, rref) < 1e-5)
    }

    @Test func activationValues() {
        let x = Tensor(shape: [3], data: [-1, 0, 2])
        let g = x.gelu().toArray()
        #expect(abs(g[0] - -0.15865525) < 1e-6 && g[1] == 0 && abs(g[2] - 1.9544997) < 1e-6)
        let gt = x.gelu(approximate: true).toArray()
        #expect(abs(gt[0] - -0.15880801) < 1e-6 && abs(gt[2] - 1.9545977) < 1e-6)
        #expect(abs(x.quickGelu().toArray()[2] - 2 / (1 + exp(-3.404))) < 1e-6)
        #expect(abs(x.silu().toArray()[0] - -1 / (1 + exp(1))) < 1e-6)
    }

    @Test mutating func movementValues() {
        let x = Tensor(shape: [2, 3], data: [0, 1, 2, 3, 4, 5])
        #expect(x.transposed().toArray() == [0, 3, 1, 4, 2, 5])
        #expect(x.sliced(axis: 1, 1..<3).toArray() == [1, 2, 4, 5])
        #expect(x.padded(axis: 0, before: 1, after: 0, value: 9).toArray() == [9, 9, 9, 0, 1, 2, 3, 4, 5])
        #expect(Tensor.concat([x, x.sliced(axis: 1, 0..<1)], axis: 1).toArray() == [0, 1, 2, 0, 3, 4, 5, 3])
        #expect(x.indexSelect([1, 1, 0]).toArray() == [3, 4, 5, 3, 4, 5, 0, 1, 2])
        #expect(x.repeated([1, 2]).toArray() == [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5])
        #expect(x.repeated([2, 1]).shape == [4, 3])
        #expect(x.reshaped([3, 2]).storage === x.storage)
        // A 2x2 image with 2 channels, patch 2: one patch, flattened (c, i, j).
        let img = Tensor(shape: [1, 2, 2, 2], data: [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(img.patchified(2).toArray() == [0, 1, 2, 3, 4, 5, 6, 7])
        let wide = Tensor(shape: [1, 1, 2, 4], data: [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(wide.patchified(2).toArray() == [0, 1, 4, 5, 2, 3, 6, 7])
    }

    @Test func comparisonsAndWhere() {
        let a = Tensor(shape: [4], data: [1, 2, 3, 4]), b = Tensor(2.5)
        #expect(a.gt(b).toArray() == [0, 0, 1, 1])
        #expect(a.le(b).toArray() == [1, 1, 0, 0])
        #expect(a.eq(Tensor(3)).toArray() == [0, 0, 1, 0])
        #expect(Tensor.where(a.gt(b), a, Tensor(0)).toArray() == [0, 0, 3, 4])
        #expect(a.clamped(min: 1.5, max: 3.5).toArray() == [1.5, 2, 3, 3.5])
    }
}

@Suite struct ShapeErrorTests {
    @Test func broadcastMismatchNamesBothShapes() {
        #expect(throws: ShapeError.self) { try Shape.broadcast([2, 3], [4, 3]) }
        do { _ = try Shape.broadcast([2, 3], [4, 3], op: "add") } catch {
            #expect("\(error)".contains("[2, 3]") && "\(error)".contains("[4, 3]"))
        }
    }

    @Test func matmulMismatchNamesBothShapes() throws {
        do {
            _ = try Shape.matmul([2, 3, 4], [5, 6])
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("[2, 3, 4]") && "\(error)".contains("[5, 6]")) }
        do {
            _ = try Shape.matmul([2, 3, 4], [3, 4, 6])
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("batch")) }
        let ok = try Shape.matmul([2, 3, 4], [6, 4], transposeB: true)
        #expect(ok.batch == [2] && ok.m == 3 && ok.k == 4 && ok.n == 6)
    }
}

@Suite(.serialized) struct DeterminismTests {
    /// One computation touching every parallel kernel, run under a given thread count.
    func workload(threads: Int) -> [[Float]] {
        let saved = Runtime.threads
        Runtime.threads = threads
        defer { Runtime.threads = saved }
        var rng = TestRNG(11)
        // Sizes large enough that every parallel kernel and the sgemm tiling split the work.
        let x = rng.tensor([8, 64, 96]), w = rng.tensor([128, 96]), b = rng.tensor([128]), ln = rng.tensor([128])
        x.requiresGrad = true; w.requiresGrad = true
        let h = x.linear(w, b).gelu().layerNorm(weight: ln).softmax() * 3
        let long = x.reshaped([-1]).sum()
        let loss = h.square().mean(axes: [0, 1]).sum() + long
        loss.backward()
        return [h.toArray(), [loss.item()], x.grad!.toArray(), w.grad!.toArray(), x.sum(axes: [0, 1]).toArray()]
    }

    @Test func oneAndTwoThreadsGiveIdenticalBits() {
        let one = workload(threads: 1), two = workload(threads: 2)
        for (i, (a, b)) in zip(one, two).enumerated() {
            let same = sameBits(a, b)
            #expect(same, "output \(i) differs between 1 and 2 threads (max diff \(zip(a, b).map { abs($0 - $1) }.max() ?? 0))")
        }
    }
}

@Suite struct PatchEmbeddingTests {
    @Test func matchesDirectConvolution() {
        var rng = TestRNG(5)
        let (b, c, h, w, d, p) = (2, 3, 6, 4, 5, 2)
        let x = rng.tensor([b, c, h, w]), wt = rng.tensor([d, c, p, p]), bias = rng.tensor([d])
        let y = x.patchEmbedding(weight: wt, bias: bias)
        #expect(y.shape == [b, (h / p) * (w / p), d])
        var worst: Float = 0
        for n in 0..<b { for oy in 0..<(h / p) { for ox in 0..<(w / p) { for o in 0..<d {
            var acc = bias[o]
            for ch in 0..<c { for i in 0..<p { for j in 0..<p {
                acc += x[n, ch, oy * p + i, ox * p + j] * wt[o, ch, i, j]
            } } }
            worst = max(worst, abs(acc - y[n, oy * (w / p) + ox, o]))
        } } } }
        #expect(worst < 1e-5, "patch embedding vs direct convolution: max error \(worst)")
        gradCheck("patchEmbedding", [x, wt, bias]) { $0[0].patchEmbedding(weight: $0[1], bias: $0[2]) }
    }
}

@Suite struct FastMathTests {
    @Test func expIsWithinTwoUlpsOverTheWholeRange() {
        var worst: Float = 0, at: Float = 0
        var x: Float = -87.3
        while x < 88.7 {
            let want = Float(Foundation.exp(Double(x)))
            let ulps = abs(fastExp(x) - want) / want.ulp
            if ulps > worst { worst = ulps; at = x }
            x += 0.000_731
        }
        #expect(worst <= 2, "fastExp: \(worst) ulp at \(at)")
        #expect(fastExp(-100) == 0 && fastExp(-.infinity) == 0 && fastExp(100) == .infinity && fastExp(.nan).isNaN)
        #expect(fastExp(0) == 1)
    }

    @Test func tanhHasSmallAbsoluteError() {
        var worst: Float = 0
        for i in -20000...20000 {
            let x = Float(i) * 0.001
            worst = max(worst, abs(fastTanh(x) - Float(Foundation.tanh(Double(x)))))
        }
        #expect(worst < 2e-7, "fastTanh: absolute error \(worst)")
    }
}
