import Testing
@testable import Tensor
import TestSupport

// Finite-difference checks of every differentiable op in the core (attention, RoPE and the
// rest have their own files). Inputs are kept away from kinks (|x| > eps) where an op has one.

@Suite struct GradientTests {
    var rng = TestRNG(42)

    @Test mutating func binaryOpsWithBroadcasting() {
        let a = rng.tensor([2, 3, 4]), b = rng.tensor([3, 1]), c = rng.tensor([4], 0.5, 1.5)
        gradCheck("add", [a, b]) { $0[0] + $0[1] }
        gradCheck("sub", [a, b]) { $0[0] - $0[1] }
        gradCheck("mul", [a, b]) { $0[0] * $0[1] }
        gradCheck("div", [a, c]) { $0[0] / $0[1] }
        gradCheck("div-broadcast-left", [c, a]) { $0[1] / $0[0] }
        gradCheck("scalar ops", [a]) { (2 - $0[0] * 3 + 1) / 4 }
    }

    @Test mutating func unaryOps() {
        let x = rng.tensor([3, 5]), pos = rng.tensor([3, 5], 0.5, 2)
        gradCheck("neg", [x]) { -$0[0] }
        gradCheck("exp", [x]) { $0[0].exp() }
        gradCheck("log", [pos]) { $0[0].log() }
        gradCheck("sqrt", [pos]) { $0[0].sqrt() }
        gradCheck("rsqrt", [pos]) { $0[0].rsqrt() }
        gradCheck("tanh", [x]) { $0[0].tanh() }
        gradCheck("sigmoid", [x]) { $0[0].sigmoid() }
        gradCheck("square", [x]) { $0[0].square() }
        gradCheck("pow", [pos]) { $0[0].pow(1.7) }
        let away = Tensor(shape: [6], data: [-0.9, -0.4, -0.2, 0.3, 0.6, 0.95])
        gradCheck("abs", [away]) { $0[0].abs() }
        gradCheck("clamp", [away]) { $0[0].clamped(min: -0.5, max: 0.5) }
        gradCheck("relu", [away]) { $0[0].relu() }
    }

    @Test mutating func activations() {
        let x = rng.tensor([4, 6], -3, 3)
        gradCheck("silu", [x]) { $0[0].silu() }
        gradCheck("quickGelu", [x]) { $0[0].quickGelu() }
        gradCheck("gelu", [x]) { $0[0].gelu() }
        gradCheck("gelu-tanh", [x]) { $0[0].gelu(approximate: true) }
        gradCheck("softmax", [x]) { $0[0].softmax() }
        gradCheck("logSoftmax", [x]) { $0[0].logSoftmax() }
    }

    @Test mutating func whereSelectsGradients() {
        let a = rng.tensor([3, 4]), b = rng.tensor([4])
        let cond = Tensor(shape: [3, 4], data: (0..<12).map { Float($0 % 3 == 0 ? 1 : 0) })
        gradCheck("where", [a, b]) { Tensor.where(cond, $0[0], $0[1]) }
    }

    @Test mutating func reductions() {
        let x = rng.tensor([2, 3, 4])
        gradCheck("sum all", [x]) { $0[0].sum() }
        gradCheck("sum axes", [x]) { $0[0].sum(axes: [0, 2], keepDims: true) }
        gradCheck("mean", [x]) { $0[0].mean(axis: 1) }
        gradCheck("variance", [x]) { $0[0].variance(axes: [-1], correction: 1) }
        // Distinct values so the argmax is stable under the perturbation.
        let d = Tensor(shape: [2, 3], data: [0.1, 0.9, 0.4, 0.7, 0.2, 0.5])
        gradCheck("max", [d]) { $0[0].max(axis: 1).values }
    }

    @Test mutating func matmulAllTransposes() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = rng.tensor(ta ? [2, 4, 3] : [2, 3, 4]), b = rng.tensor(tb ? [2, 5, 4] : [2, 4, 5])
            gradCheck("bmm \(ta) \(tb)", [a, b]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
            let w = rng.tensor(tb ? [5, 4] : [4, 5])
            gradCheck("matmul shared \(ta) \(tb)", [a, w]) { $0[0].matmul($0[1], transposeA: ta, transposeB: tb) }
        }
        let a2 = rng.tensor([3, 4]), b3 = rng.tensor([2, 4, 5])
        gradCheck("matmul 2d @ batched", [a2, b3]) { $0[0].matmul($0[1]) }
    }

    @Test mutating func linearLayer() {
        let x = rng.tensor([2, 3, 4]), w = rng.tensor([5, 4]), b = rng.tensor([5])
        gradCheck("linear", [x, w, b]) { $0[0].linear($0[1], $0[2]) }
        gradCheck("linear no bias", [x, w]) { $0[0].linear($0[1]) }
    }

    @Test mutating func frozenWeightsGetNoGradient() {
        let x = rng.tensor([2, 4]), w = rng.tensor([3, 4])
        x.requiresGrad = true
        x.linear(w).sum().backward()
        #expect(w.grad == nil)
        #expect(x.grad != nil)
    }

    @Test mutating func norms() {
        let x = rng.tensor([3, 6]), w = rng.tensor([6]), b = rng.tensor([6])
        gradCheck("layerNorm affine", [x, w, b]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
        gradCheck("layerNorm plain", [x]) { $0[0].layerNorm(eps: 1e-6) }
        gradCheck("rmsNorm", [x, w]) { $0[0].rmsNorm(weight: $0[1]) }
        gradCheck("rmsNorm plain", [x]) { $0[0].rmsNorm() }
    }

    @Test mutating func movementOps() {
        let x = rng.tensor([2, 3, 4])
        gradCheck("reshape", [x]) { $0[0].reshaped([4, -1]) }
        gradCheck("permute", [x]) { $0[0].permuted([2, 0, 1]) }
        gradCheck("transpose", [x]) { $0[0].transposed(0, 2) }
        gradCheck("slice", [x]) { $0[0].sliced(axis: 1, 1..<3) }
        gradCheck("pad", [x]) { $0[0].padded(axis: 2, before: 1, after: 2, value: 0.5) }
        let y = rng.tensor([2, 2, 4])
        gradCheck("concat", [x, y]) { Tensor.concat([$0[0], $0[1]], axis: 1) }
        gradCheck("split", [x]) { let p = $0[0].split([1, 3], axis: 2); return p[1] * 2 + p[0] }
        gradCheck("chunk", [x]) { let p = $0[0].chunked(2, axis: 2); return p[0] * p[1] }
        gradCheck("indexSelect", [x]) { $0[0].indexSelect([1, 0, 1]) }
        gradCheck("repeat", [x]) { $0[0].repeated([2, 1, 3]) }
        gradCheck("expand", [rng.tensor([3, 1])]) { $0[0].expanded(to: [2, 3, 4]) }
        let img = rng.tensor([2, 3, 4, 6])
        gradCheck("patchify", [img]) { $0[0].patchified(2) }
    }

    @Test mutating func gradientsAccumulateAcrossUses() {
        // y = x * x + x  =>  dy/dx = 2x + 1, through two paths into one leaf.
        let x = Tensor(shape: [3], data: [1, -2, 0.5])
        x.requiresGrad = true
        (x * x + x).sum().backward()
        #expect(x.grad!.toArray() == [3, -3, 2])
        // A second backward accumulates into the same leaf.
        (x * 2).sum().backward()
        #expect(x.grad!.toArray() == [5, -1, 4])
    }

    @Test func noGradScopeRecordsNothing() {
        let x = Tensor(shape: [2], data: [1, 2])
        x.requiresGrad = true
        let y = withNoGrad { x * 3 }
        #expect(!y.requiresGrad)
        #expect(GradMode.isEnabled)
    }

    /// An output whose backward never runs must not keep itself alive through its own closure.
    @Test func graphsWithoutBackwardAreFreed() {
        var rng = TestRNG(1)
        let x = rng.tensor([2, 3, 4], 0.5, 1.5)
        x.requiresGrad = true
        let ops: [(String, (Tensor) -> Tensor)] = [
            ("exp", { $0.exp() }), ("sqrt", { $0.sqrt() }), ("rsqrt", { $0.rsqrt() }), ("tanh", { $0.tanh() }),
            ("sigmoid", { $0.sigmoid() }), ("softmax", { $0.softmax() }), ("logSoftmax", { $0.logSoftmax() }),
            ("layerNorm", { $0.layerNorm() }), ("rmsNorm", { $0.rmsNorm() }), ("gelu", { $0.gelu() }),
            ("attention", { scaledDotProductAttention($0, $0, $0, heads: 2) }), ("max", { $0.max(axis: 1).values }),
            ("matmul", { $0.matmul($0, transposeB: true) }), ("sum", { $0.sum(axes: [1]) }),
        ]
        for (name, op) in ops {
            weak var weakOut: Tensor?
            do {
                let y = op(x)
                weakOut = y
                #expect(y.requiresGrad)
            }
            #expect(weakOut == nil, "\(name): output kept alive by its own backward closure")
        }
    }

    @Test func backwardFreesTheGraph() {
        let x = Tensor(shape: [2], data: [1, 2])
        x.requiresGrad = true
        let y = (x * 3).exp()
        y.sum().backward()
        #expect(y.node == nil)
    }
}

@Suite struct L2NormalizedTests {
    @Test func unitRowsAndGradient() {
        var rng = TestRNG(12)
        let x = rng.tensor([3, 5])
        let y = x.l2Normalized()
        for i in 0..<3 {
            let norm = (0..<5).map { y[i, $0] * y[i, $0] }.reduce(0, +)
            #expect(abs(norm - 1) < 1e-5)
        }
        gradCheck("l2Normalized", [x]) { $0[0].l2Normalized() }
    }
}
