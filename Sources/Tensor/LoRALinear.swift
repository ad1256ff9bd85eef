// A Linear layer with a per-sample scaled low-rank update, fused into one op:
//
//   y = x W^T + b + ((x A) * s) B      x [B, ..., in], W [out, in], A [in, k], B [k, out], s [B, k]
//
// which is LoRWeB's adapted Linear with the basis stacked (k = n r) and s the coefficients
// repeated r times. Unfused, that is five ops, each with its own output and saved tensors; fused,
// the low-rank product accumulates into the base product's output (sgemm beta = 1), the scaled
// hidden h = (x A) * s lives in scratch, and backward keeps x and x A only.

extension Tensor {
    /// The fused adapted Linear; differentiable in every operand (only what requires gradients is
    /// computed: frozen W and b cost no weight-gradient products).
    public func loraLinear(weight: Tensor, bias: Tensor?, a: Tensor, b: Tensor, scale s: Tensor) -> Tensor {
        let inF = weight.shape[1], outF = weight.shape[0], k = a.shape[1]
        precondition(weight.rank == 2 && rank >= 2 && shape[rank - 1] == inF, "loraLinear: input \(shape) does not match weight \(weight.shape)")
        precondition(a.shape == [inF, k] && b.shape == [k, outF], "loraLinear: A \(a.shape) / B \(b.shape) do not fit weight \(weight.shape)")
        precondition(s.shape == [shape[0], k], "loraLinear: scale \(s.shape) is not [batch \(shape[0]), \(k)]")
        if let bias { precondition(bias.shape == [outF], "loraLinear: bias \(bias.shape) does not match weight \(weight.shape)") }
        let rows = count / inF, perSample = rows / shape[0]

        let h0 = Tensor(uninitialized: [rows, k])
        sgemm(false, false, m: rows, n: k, k: inF, data, lda: inF, a.data, ldb: k, h0.data, ldc: k)
        let scaled = Tensor.rowScaled(h0, s, perSample: perSample)
        let out = Tensor(uninitialized: Array(shape.dropLast()) + [outF])
        sgemm(false, true, m: rows, n: outF, k: inF, data, lda: inF, weight.data, ldb: inF, out.data, ldc: outF, bias: bias?.data)
        sgemm(false, false, m: rows, n: outF, k: k, scaled.data, lda: k, b.data, ldb: outF, beta: 1, out.data, ldc: outF)

        let x = detached(), inShape = shape
        var inputs = [self, weight, a, b, s]
        if let bias { inputs.append(bias) }
        return out.recorded(inputs) { g in
            let (needX, needW, needA, needB, needS) = (inputs[0].requiresGrad, weight.requiresGrad, a.requiresGrad,
                                                       b.requiresGrad, s.requiresGrad)
            var gx: Tensor? = nil, gw: Tensor? = nil, ga: Tensor? = nil, gb: Tensor? = nil, gs: Tensor? = nil
            if needB {
                let t = Tensor(uninitialized: [k, outF])
                let hs = Tensor.rowScaled(h0, s, perSample: perSample)
                sgemm(true, false, m: k, n: outF, k: rows, hs.data, lda: k, g.data, ldb: outF, t.data, ldc: outF)
                gb = t
            }
            if needX || needA || needS {
                // d(scaled hidden) = g B^T, then ds sums it against x A per sample, and it becomes
                // d(x A) in place.
                let dh = Tensor(uninitialized: [rows, k])
                sgemm(false, true, m: rows, n: k, k: outF, g.data, lda: outF, b.data, ldb: outF, dh.data, ldc: k)
                if needS { gs = Tensor.sampleDot(dh, h0, samples: s.shape[0], perSample: perSample) }
                Tensor.scaleRowsInPlace(dh, s, perSample: perSample)
                if needA {
                    let t = Tensor(uninitialized: [inF, k])
                    sgemm(true, false, m: inF, n: k, k: rows, x.data, lda: inF, dh.data, ldb: k, t.data, ldc: k)
                    ga = t
                }
                if needX {
                    let t = Tensor(uninitialized: inShape)
                    sgemm(false, false, m: rows, n: inF, k: outF, g.data, lda: outF, weight.data, ldb: inF, t.data, ldc: inF)
                    sgemm(false, true, m: rows, n: inF, k: k, dh.data, lda: k, a.data, ldb: k, beta: 1, t.data, ldc: inF)
                    gx = t
                }
            }
            if needW {
                let t = Tensor(uninitialized: weight.shape)
                sgemm(true, false, m: outF, n: inF, k: rows, g.data, lda: outF, x.data, ldb: inF, t.data, ldc: inF)
                gw = t
            }
            var grads = [gx, gw, ga, gb, gs]
            if let bias { grads.append(bias.requiresGrad ? g.reshaped([rows, outF]).sum(axis: 0).detached() : nil) }
            return grads
        }
    }

    /// h [rows, k] times s [samples, k], row r scaled by sample r / perSample.
    static func rowScaled(_ h: Tensor, _ s: Tensor, perSample: Int) -> Tensor {
        let out = Tensor(uninitialized: h.shape)
        let k = h.shape[1], ph = h.data, ps = s.data, po = out.data
        parallelFor(h.shape[0], grain: Swift.max(1, 8192 / Swift.max(k, 1))) { rows in
            for r in rows {
                let sr = ps + (r / perSample) * k, hr = ph + r * k, or = po + r * k
                for c in 0..<k { or[c] = hr[c] * sr[c] }
            }
        }
        return out
    }

    static func scaleRowsInPlace(_ h: Tensor, _ s: Tensor, perSample: Int) {
        let k = h.shape[1], ph = h.data, ps = s.data
        parallelFor(h.shape[0], grain: Swift.max(1, 8192 / Swift.max(k, 1))) { rows in
            for r in rows {
                let sr = ps + (r / perSample) * k, hr = ph + r * k
                for c in 0..<k { hr[c] *= sr[c] }
            }
        }
    }

    /// [samples, k]: for each sample, the column sums of a * b over its perSample rows, in row order
    /// (a and b hold samples * perSample rows of k, k being the last axis).
    static func sampleDot(_ a: Tensor, _ b: Tensor, samples: Int, perSample: Int) -> Tensor {
        let k = a.shape.last ?? 1
        let out = Tensor.zeros([samples, k])
        let pa = a.data, pb = b.data, po = out.data
        parallelFor(samples, grain: 1) { range in
            for i in range {
                let o = po + i * k
                for r in (i * perSample)..<((i + 1) * perSample) {
                    let ar = pa + r * k, br = pb + r * k
                    for c in 0..<k { o[c] += ar[c] * br[c] }
                }
            }
        }
        return out
    }
}
