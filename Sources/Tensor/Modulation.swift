// AdaLN-style per-sample modulation, fused: the Flux blocks' "layer norm, then scale and shift
// per sample" and "residual plus gated branch". Unfused, each is two or three broadcast passes
// whose intermediates backward keeps; fused, each is one pass that keeps only what its
// gradient reads. Legend: x [B, L, C] (or [B, C], L = 1), per-sample vectors [B, C].

extension Tensor {
    /// LayerNorm(x) (no affine) * (1 + scale[b]) + shift[b].
    public func layerNormModulated(shift: Tensor, scale: Tensor, eps: Float = 1e-6) -> Tensor {
        let c = shape.last ?? 1, rows = count / Swift.max(c, 1), samples = shape[0], perSample = rows / Swift.max(samples, 1)
        precondition(shift.shape == [samples, c] && scale.shape == [samples, c],
                     "layerNormModulated: shift \(shift.shape) / scale \(scale.shape) are not [\(samples), \(c)] for \(shape)")
        let y = Tensor(uninitialized: shape)
        let stats = Tensor(uninitialized: [rows, 2])  // mean, rstd
        let px = data, py = y.data, ps = stats.data, psh = shift.data, psc = scale.data
        parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(c, 1))) { range in
            for row in range {
                let s = px + row * c, d = py + row * c, b = row / perSample
                let sh = psh + b * c, sc = psc + b * c
                var mean: Float = 0
                for j in 0..<c { mean += s[j] }
                mean /= Float(c)
                var v: Float = 0
                for j in 0..<c { let t = s[j] - mean; v += t * t }
                let rstd = 1 / (v / Float(c) + eps).squareRoot()
                ps[2 * row] = mean; ps[2 * row + 1] = rstd
                for j in 0..<c { d[j] = (s[j] - mean) * rstd * (1 + sc[j]) + sh[j] }
            }
        }
        let x = detached(), scaleSaved = scale.detached(), needX = requiresGrad
        return y.recorded([self, shift, scale]) { g in
            let pg = g.data, px = x.data, ps = stats.data, psc = scaleSaved.data
            var dx: Tensor? = nil
            if needX {
                let t = Tensor(uninitialized: x.shape), pd = t.data
                parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(c, 1))) { range in
                    for row in range {
                        let s = px + row * c, gr = pg + row * c, d = pd + row * c, sc = psc + (row / perSample) * c
                        let mean = ps[2 * row], rstd = ps[2 * row + 1]
                        // dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)), gh = g * (1 + scale)
                        var m1: Float = 0, m2: Float = 0
                        for j in 0..<c {
                            let gh = gr[j] * (1 + sc[j])
                            m1 += gh
                            m2 += gh * (s[j] - mean) * rstd
                        }
                        m1 /= Float(c); m2 /= Float(c)
                        for j in 0..<c { d[j] = rstd * (gr[j] * (1 + sc[j]) - m1 - (s[j] - mean) * rstd * m2) }
                    }
                }
                dx = t
            }
            // d shift = sum of g and d scale = sum of g * xhat over each sample's rows, in row order.
            let dShift = Tensor.zeros([samples, c]), dScale = Tensor.zeros([samples, c])
            let pdsh = dShift.data, pdsc = dScale.data
            parallelFor(samples, grain: 1) { range in
                for b in range {
                    let dsh = pdsh + b * c, dsc = pdsc + b * c
                    for row in (b * perSample)..<((b + 1) * perSample) {
                        let s = px + row * c, gr = pg + row * c, mean = ps[2 * row], rstd = ps[2 * row + 1]
                        for j in 0..<c {
                            dsh[j] += gr[j]
                            dsc[j] += gr[j] * ((s[j] - mean) * rstd)
                        }
                    }
                }
            }
            return [dx, dShift, dScale]
        }
    }

    /// self + gate[b] * branch: a residual stream plus a gated branch.
    public func addingGated(_ gate: Tensor, _ branch: Tensor) -> Tensor {
        precondition(branch.shape == shape, "addingGated: branch \(branch.shape) does not match \(shape)")
        let c = shape.last ?? 1, rows = count / Swift.max(c, 1), samples = shape[0], perSample = rows / Swift.max(samples, 1)
        precondition(gate.shape == [samples, c], "addingGated: gate \(gate.shape) is not [\(samples), \(c)] for \(shape)")
        let out = Tensor(uninitialized: shape)
        let px = data, pb = branch.data, pgate = gate.data, po = out.data
        parallelFor(rows, grain: Swift.max(1, 16384 / Swift.max(c, 1))) { range in
            for row in range {
                let x = px + row * c, br = pb + row * c, gt = pgate + (row / perSample) * c, o = po + row * c
                for j in 0..<c { o[j] = x[j] + gt[j] * br[j] }
            }
        }
        let gateSaved = gate.detached(), branchSaved = branch.detached()
        let (needX, needGate, needBranch) = (requiresGrad, gate.requiresGrad, branch.requiresGrad)
        return out.recorded([self, gate, branch]) { g in
            let pg = g.data, pgate = gateSaved.data
            var dBranch: Tensor? = nil, dGate: Tensor? = nil
            if needBranch {
                let t = Tensor(uninitialized: g.shape), pd = t.data
                parallelFor(rows, grain: Swift.max(1, 16384 / Swift.max(c, 1))) { range in
                    for row in range {
                        let gr = pg + row * c, gt = pgate + (row / perSample) * c, d = pd + row * c
                        for j in 0..<c { d[j] = gr[j] * gt[j] }
                    }
                }
                dBranch = t
            }
            if needGate { dGate = Tensor.sampleDot(g, branchSaved, samples: samples, perSample: perSample) }
            return [needX ? g : nil, dGate, dBranch]
        }
    }
}
