import Testing
@testable import Tensor
import TestSupport

// The fused ops (adapted Linear, AdaLN modulation, gated residual): finite-difference gradient
// checks, and values and gradients against the unfused ops they replace.

@Suite struct FusedOpTests {
    var rng = TestRNG(91)

    /// Values and every input's gradient of `fused` and `reference` under the same random
    /// upstream gradient agree within `tolerance`.
    func matches(_ name: String, _ inputs: [Tensor], tolerance: Float = 1e-5,
                 _ fused: ([Tensor]) -> Tensor, _ reference: ([Tensor]) -> Tensor) {
        var rng = TestRNG(3)
        func run(_ f: ([Tensor]) -> Tensor) -> (Tensor, [Tensor?]) {
            for x in inputs { x.requiresGrad = true; x.grad = nil }
            let y = f(inputs)
            (y * rng.tensor(y.shape)).sum().backward()
            return (y.detached(), inputs.map(\.grad))
        }
        let (yf, gf) = run(fused)
        rng = TestRNG(3)
        let (yr, gr) = run(reference)
        #expect(maxAbsDiff(yf, yr) <= tolerance, "\(name): values differ by \(maxAbsDiff(yf, yr))")
        for (k, (a, b)) in zip(gf, gr).enumerated() {
            guard let a, let b else { Issue.record("\(name): input \(k) has no gradient"); continue }
            #expect(maxAbsDiff(a, b) <= tolerance, "\(name): gradient of input \(k) differs by \(maxAbsDiff(a, b))")
        }
    }

    @Test mutating func loraLinear() {
        for shape in [[2, 3, 4], [2, 4]] {
            let x = rng.tensor(shape), w = rng.tensor([5, 4]), bias = rng.tensor([5])
            let a = rng.tensor([4, 6]), b = rng.tensor([6, 5]), s = rng.tensor([2, 6])
            gradCheck("loraLinear \(shape)", [x, w, bias, a, b, s]) {
                $0[0].loraLinear(weight: $0[1], bias: $0[2], a: $0[3], b: $0[4], scale: $0[5])
            }
            gradCheck("loraLinear no bias \(shape)", [x, w, a, b, s]) {
                $0[0].loraLinear(weight: $0[1], bias: nil, a: $0[2], b: $0[3], scale: $0[4])
            }
            let perSample = shape.count == 3 ? [2, 1, 6] : [2, 6]
            matches("loraLinear \(shape)", [x, w, bias, a, b, s]) {
                $0[0].loraLinear(weight: $0[1], bias: $0[2], a: $0[3], b: $0[4], scale: $0[5])
            } _: {
                $0[0].linear($0[1], $0[2]) + ($0[0].matmul($0[3]) * $0[5].reshaped(perSample)).matmul($0[4])
            }
        }
    }

    @Test mutating func frozenBaseOfLoraLinearGetsNoGradient() {
        let x = rng.tensor([2, 3, 4]), w = rng.tensor([5, 4]), a = rng.tensor([4, 6]), b = rng.tensor([6, 5]), s = rng.tensor([2, 6])
        for t in [a, b, s] { t.requiresGrad = true }
        x.loraLinear(weight: w, bias: nil, a: a, b: b, scale: s).sum().backward()
        #expect(w.grad == nil && x.grad == nil)
        #expect(a.grad != nil && b.grad != nil && s.grad != nil)
    }

    @Test mutating func layerNormModulated() {
        for shape in [[2, 3, 8], [2, 8]] {
            let x = rng.tensor(shape), shift = rng.tensor([2, 8]), scale = rng.tensor([2, 8])
            gradCheck("layerNormModulated \(shape)", [x, shift, scale]) { $0[0].layerNormModulated(shift: $0[1], scale: $0[2]) }
            let perSample = shape.count == 3 ? [2, 1, 8] : [2, 8]
            matches("layerNormModulated \(shape)", [x, shift, scale]) {
                $0[0].layerNormModulated(shift: $0[1], scale: $0[2])
            } _: {
                $0[0].layerNorm(eps: 1e-6) * ($0[2].reshaped(perSample) + 1) + $0[1].reshaped(perSample)
            }
        }
    }

    @Test mutating func addingGated() {
        let x = rng.tensor([2, 3, 5]), gate = rng.tensor([2, 5]), branch = rng.tensor([2, 3, 5])
        gradCheck("addingGated", [x, gate, branch]) { $0[0].addingGated($0[1], $0[2]) }
        matches("addingGated", [x, gate, branch]) { $0[0].addingGated($0[1], $0[2]) } _: {
            $0[0] + $0[1].reshaped([2, 1, 5]) * $0[2]
        }
    }
}

@Suite struct VectorKernelTests {
    /// The vectorised C loops give fastExp's bits, Swift.max's value and the Swift GELU formulas' bits.
    @Test func expAndMaxMatchTheScalarSwift() {
        var values: [Float] = [0, -0.0, 1, -1, 88.7, 88.73, 100, -87.3, -87.34, -100, .infinity, -.infinity, .nan, 1e-30]
        var rng = TestRNG(5)
        for _ in 0..<1000 { values.append(rng.uniform(-90, 90)) }
        for shift: Float in [0, 3.5, -2] {
            var x = values
            let sum = x.withUnsafeMutableBufferPointer { expShiftedSum($0.baseAddress!, $0.count, shift: shift) }
            var expected: Float = 0
            for (v, got) in zip(values, x) {
                let e = fastExp(v - shift)
                expected += e
                #expect(got.bitPattern == e.bitPattern || (got.isNaN && e.isNaN), "exp(\(v) - \(shift)): \(got) vs \(e)")
            }
            #expect(sum.bitPattern == expected.bitPattern || (sum.isNaN && expected.isNaN))
        }
        // tanh-GELU and its derivative: the C loops against the formula in Swift, bit for bit.
        let c: Float = 0.7978845608028654, k: Float = 0.044715
        let x = Tensor(shape: [values.count], data: values.map { $0.isNaN || !$0.isFinite ? 0.5 : $0 / 10 })
        x.requiresGrad = true
        let y = x.gelu(approximate: true), upstream = Tensor(shape: x.shape, data: (0..<x.count).map { Float($0 % 7) - 3 })
        y.backward(upstream)
        for i in 0..<x.count {
            let v = x.data[i], t = fastTanh(c * (v + k * v * v * v))
            #expect(y.data[i].bitPattern == (0.5 * v * (1 + fastTanh(c * (v + k * v * v * v)))).bitPattern)
            let dx = upstream.data[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * k * v * v))
            #expect(x.grad!.data[i].bitPattern == dx.bitPattern)
        }
        // Quick GELU and its derivative likewise.
        let xq = Tensor(shape: x.shape, data: values.map { $0.isNaN || !$0.isFinite ? 0.5 : $0 })
        xq.requiresGrad = true
        let yq = xq.quickGelu()
        yq.backward(upstream)
        for i in 0..<xq.count {
            let v = xq.data[i], s = 1 / (1 + fastExp(-1.702 * v))
            #expect(yq.data[i].bitPattern == (v / (1 + fastExp(-1.702 * v))).bitPattern, "quickGelu(\(v))")
            #expect(xq.grad!.data[i].bitPattern == (upstream.data[i] * s * (1 + 1.702 * v * (1 - s))).bitPattern, "quickGelu'(\(v))")
        }
        for n in [0, 1, 15, 16, 17, 1000] {
            let row = Array(values.filter { !$0.isNaN }.prefix(n)) + (n > 3 ? [.nan] : [])
            var m = -Float.infinity
            for v in row { m = Swift.max(m, v) }
            #expect(row.withUnsafeBufferPointer { rowMax($0.baseAddress!, $0.count) } == m)
        }
    }
}
