// Layer norm and RMS norm over the last axis, fused forward and backward. The forward saves
// only the per-row statistics the backward needs.

extension Tensor {
    /// (x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance, as PyTorch).
    public func layerNorm(weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
        let n = shape.last ?? 1, rows = count / Swift.max(n, 1)
        if let weight { precondition(weight.shape == [n], "layerNorm: weight \(weight.shape) does not match input \(shape)") }
        if let bias { precondition(bias.shape == [n], "layerNorm: bias \(bias.shape) does not match input \(shape)") }
        let y = Tensor(uninitialized: shape)
        let stats = Tensor(uninitialized: [rows, 2])  // mean, rstd
        let pw = weight?.data, pb = bias?.data, ps = stats.data
        Tensor.rowwise(self, into: y) { s, d, n in
            let row = (d - y.data) / n
            var mean: Float = 0
            for j in 0..<n { mean += s[j] }
            mean /= Float(n)
            var v: Float = 0
            for j in 0..<n { let c = s[j] - mean; v += c * c }
            let rstd = 1 / (v / Float(n) + eps).squareRoot()
            ps[2 * row] = mean; ps[2 * row + 1] = rstd
            for j in 0..<n {
                var o = (s[j] - mean) * rstd
                if let pw { o *= pw[j] }
                if let pb { o += pb[j] }
                d[j] = o
            }
        }
        let x = self
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        // The closure holds the tensors, never raw pointers into them: they must outlive the forward.
        return y.recorded(inputs) { g in
            let pg = g.data, px = x.data, ps = stats.data, pw = weight?.data
            var dx: Tensor? = nil
            if x.requiresGrad {
                let t = Tensor(uninitialized: x.shape)
                Tensor.rowwise(x, into: t) { s, d, n in
                    let row = (d - t.data) / n, gr = pg + row * n
                    let mean = ps[2 * row], rstd = ps[2 * row + 1]
                    // dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
                    var m1: Float = 0, m2: Float = 0
                    for j in 0..<n {
                        let gw = gr[j] * (pw?[j] ?? 1)
                        m1 += gw
                        m2 += gw * (s[j] - mean) * rstd
                    }
                    m1 /= Float(n); m2 /= Float(n)
                    for j in 0..<n {
                        let gw = gr[j] * (pw?[j] ?? 1)
                        d[j] = rstd * (gw - m1 - (s[j] - mean) * rstd * m2)
                    }
                }
                dx = t
            }
            // Weight and bias gradients: column sums over rows, accumulated row by row (fixed order).
            var grads: [Tensor?] = [dx]
            if let weight {
                if weight.requiresGrad {
                    let dw = Tensor.zeros([n]), pd = dw.data
                    parallelFor(n, grain: 256) { cols in
                        for row in 0..<rows {
                            let mean = ps[2 * row], rstd = ps[2 * row + 1], xr = px + row * n, gr = pg + row * n
                            for j in cols { pd[j] += gr[j] * (xr[j] - mean) * rstd }
                        }
                    }
                    grads.append(dw)
                } else { grads.append(nil) }
            }
            if let bias { grads.append(bias.requiresGrad ? g.reshaped([rows, n]).sum(axis: 0).detached() : nil) }
            return grads
        }
    }

    /// x * rsqrt(mean(x^2) + eps) * weight over the last axis (diffusers' / T5's RMSNorm).
    public func rmsNorm(weight: Tensor? = nil, eps: Float = 1e-6) -> Tensor {
        let n = shape.last ?? 1, rows = count / Swift.max(n, 1)
        if let weight { precondition(weight.shape == [n], "rmsNorm: weight \(weight.shape) does not match input \(shape)") }
        let y = Tensor(uninitialized: shape)
        let rstds = Tensor(uninitialized: [rows])
        let pw = weight?.data, pr = rstds.data
        Tensor.rowwise(self, into: y) { s, d, n in
            let row = (d - y.data) / n
            var ms: Float = 0
            for j in 0..<n { ms += s[j] * s[j] }
            let r = 1 / (ms / Float(n) + eps).squareRoot()
            pr[row] = r
            for j in 0..<n { d[j] = s[j] * r * (pw?[j] ?? 1) }
        }
        let x = self
        let inputs = weight.map { [x, $0] } ?? [x]
        return y.recorded(inputs) { g in
            let pg = g.data, px = x.data, pr = rstds.data, pw = weight?.data
            var dx: Tensor? = nil
            if x.requiresGrad {
                let t = Tensor(uninitialized: x.shape)
                Tensor.rowwise(x, into: t) { s, d, n in
                    let row = (d - t.data) / n, gr = pg + row * n, r = pr[row]
                    // dx = r * (gw - x * r^2 * mean(gw * x))
                    var m: Float = 0
                    for j in 0..<n { m += gr[j] * (pw?[j] ?? 1) * s[j] }
                    m /= Float(n)
                    for j in 0..<n { d[j] = r * (gr[j] * (pw?[j] ?? 1) - s[j] * r * r * m) }
                }
                dx = t
            }
            guard let weight else { return [dx] }
            var dw: Tensor? = nil
            if weight.requiresGrad {
                let t = Tensor.zeros([n]), pd = t.data
                parallelFor(n, grain: 256) { cols in
                    for row in 0..<rows {
                        let xr = px + row * n, gr = pg + row * n, r = pr[row]
                        for j in cols { pd[j] += gr[j] * xr[j] * r }
                    }
                }
                dw = t
            }
            return [dx, dw]
        }
    }
}

extension Tensor {
    /// x / sqrt(sum(x^2) + eps) over the last axis (unit vectors for cosine similarities).
    public func l2Normalized(eps: Float = 1e-12) -> Tensor {
        self / (square().sum(axis: -1, keepDims: true) + eps).sqrt()
    }
}
