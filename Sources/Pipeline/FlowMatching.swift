import Foundation
import Tensor

// Rectified flow as the release trains and samples Flux-Kontext.
//
// Time runs from data (t = 0) to noise (t = 1): x_t = (1 - t) x0 + t eps, and the transformer
// predicts the velocity dx_t/dt = eps - x0. Training draws t uniformly from the scheduler's 1000
// discrete steps, unshifted, and weights each sample's MSE with ai-toolkit's bell curve. Sampling
// integrates the ODE from t = 1 to 0 with Euler steps on diffusers' shifted schedule, whose shift
// grows with the number of target tokens so that larger images spend longer at high noise.
// A base may start its flow elsewhere (`FlowStart`: the small base starts from its context); the
// path stays straight, so eps below is wherever the flow starts.
//
// The schedule mirrors diffusers' `FlowMatchEulerDiscreteScheduler` (exponential `time_shift`,
// Flux's `calculate_shift`) down to the float32 arithmetic, so sigmas match it bit for bit.

/// The flow-matching scheduler configuration of Flux(-Kontext) in diffusers. Its `shift` 3.0 is
/// not here: with dynamic shifting on (as Flux runs) diffusers ignores it in favour of mu.
public struct FlowMatchConfig: Codable, Equatable, Sendable {
    /// Target-token count at which the shift is `baseShift`.
    public var baseImageSeqLen = 256
    /// Target-token count at which the shift is `maxShift` (the line continues beyond it).
    public var maxImageSeqLen = 4096
    public var baseShift = 0.5
    public var maxShift = 1.15

    /// The release's configuration.
    public static let flux = FlowMatchConfig()
    public init() {}

    enum CodingKeys: String, CodingKey {
        case baseImageSeqLen = "base_image_seq_len", maxImageSeqLen = "max_image_seq_len"
        case baseShift = "base_shift", maxShift = "max_shift"
    }
}

/// How training draws its noise levels and weighs them.
public enum TimestepSampling: Codable, Equatable, Sendable {
    /// The release's: t uniform over the 1000 discrete steps, the loss bell-weighted (fine-tuning
    /// a pretrained editor, sampled in 28 steps).
    case release
    /// logit(t) ~ N(mean, std), unweighted: where a from-scratch editor must learn first, and
    /// where a few-step sampler evaluates it.
    case logitNormal(mean: Float, std: Float)

    /// One time per batch row.
    public func draw(batch: Int, rng: inout RNG) -> [Float] {
        switch self {
        case .release: return FlowMatching.trainingTimesteps(batch: batch, rng: &rng)
        case let .logitNormal(mean, std): return (0..<batch).map { _ in FlowMatching.logitNormalTimestep(mean: mean, std: std, rng: &rng) }
        }
    }

    /// Whether the loss carries the release's bell weights.
    public var weighted: Bool { self == .release }
}

/// Where a flow starts at t = 1 (see `BaseEditorSettings.FlowSource`).
public enum FlowStart: Equatable, Sendable {
    case noise
    case context(noise: Float)
}

/// Timesteps, noising, loss weighting and the Euler sampler of rectified flow.
public enum FlowMatching {
    /// The scheduler's discrete training timesteps; training times are k / 1000, k in 1...1000.
    public static let trainTimesteps = 1000

    // MARK: Sampling schedule

    /// Flux's `calculate_shift`: mu linear in the target-token count through
    /// (baseImageSeqLen, baseShift) and (maxImageSeqLen, maxShift), in Float64 as in Python.
    public static func calculateShift(imageSeqLen: Int, config: FlowMatchConfig = .flux) -> Double {
        let m = (config.maxShift - config.baseShift) / Double(config.maxImageSeqLen - config.baseImageSeqLen)
        let b = config.baseShift - m * Double(config.baseImageSeqLen)
        return Double(imageSeqLen) * m + b
    }

    /// diffusers' exponential time shift with exponent 1: sigma' = e^mu / (e^mu + (1/sigma - 1)).
    /// Maps 1 to 1 and pushes every other sigma towards 1 when mu > 0.
    public static func timeShift(mu: Double, sigma: Double) -> Double {
        exp(mu) / (exp(mu) + (1 / sigma - 1))
    }

    /// The `steps + 1` noise levels of an Euler run for `imageSeqLen` target tokens:
    /// linspace(1, 1/steps, steps) shifted by `calculateShift`, then a final 0.
    ///
    /// Evaluated as diffusers does (NumPy's float64 linspace, rounded to float32, shifted in
    /// float32), so the values equal `FluxKontextPipeline`'s `scheduler.sigmas` exactly.
    public static func samplingSigmas(steps: Int, imageSeqLen: Int, config: FlowMatchConfig = .flux) -> [Float] {
        precondition(steps >= 1, "samplingSigmas: need at least one step, got \(steps)")
        let shift = Float(exp(calculateShift(imageSeqLen: imageSeqLen, config: config)))
        let start = 1.0, stop = 1 / Double(steps)
        let delta = steps > 1 ? (stop - start) / Double(steps - 1) : 0
        var sigmas = (0..<steps).map { i -> Float in
            // NumPy's linspace: start + i * step, with the last value set to `stop` exactly.
            let s = Float(i == steps - 1 ? stop : Double(i) * delta + start)
            return shift / (shift + (1 / s - 1))
        }
        sigmas.append(0)
        return sigmas
    }

    // MARK: Training

    /// A training time t = k / 1000 with k uniform in 1...1000 (ai-toolkit's `linspace(1000, 1, 1000)`
    /// drawn by `randint`), unshifted. Consumes two words of `rng`.
    public static func trainingTimestep(rng: inout RNG) -> Float {
        Float(rng.int(in: 1...trainTimesteps)) / Float(trainTimesteps)
    }

    /// A training time t = sigmoid(mean + std n), n ~ N(0, 1) (SD3's logit-normal sampling),
    /// clipped to [0.001, 1]. With mean 1.5 most draws fall at high noise, where an editor decides
    /// what the context determines. Consumes two words of `rng`.
    public static func logitNormalTimestep(mean: Float, std: Float, rng: inout RNG) -> Float {
        let u1 = max(rng.nextFloat(), Float.leastNormalMagnitude), u2 = rng.nextFloat()
        let n = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Float.pi * u2)
        return min(max(1 / (1 + Foundation.exp(-(mean + std * n))), 0.001), 1)
    }

    /// One `trainingTimestep` per batch row.
    public static func trainingTimesteps(batch: Int, rng: inout RNG) -> [Float] {
        (0..<batch).map { _ in trainingTimestep(rng: &rng) }
    }

    /// ai-toolkit's "weighted" timestep weighting: w(k) = exp(-2 ((k - 500) / 1000)^2) over the
    /// 1000 discrete steps, minus its minimum (at k = 1000, so pure noise gets weight 0) and scaled
    /// to mean 1 (about 1.58 at k = 500, 0.005 at k = 1).
    public static let bellWeights: [Float] = {
        let n = trainTimesteps
        let y = (1...n).map { k in exp(-2 * pow((Double(k) - Double(n / 2)) / Double(n), 2)) }
        let low = y.min()!
        let total = y.reduce(0) { $0 + ($1 - low) }
        return y.map { Float(($0 - low) * Double(n) / total) }
    }()

    /// The bell weight of a training time t = k / 1000 drawn by `trainingTimestep`.
    public static func lossWeight(_ t: Float) -> Float {
        let k = Int((t * Float(trainTimesteps)).rounded())
        precondition((1...trainTimesteps).contains(k), "lossWeight: t = \(t) is not one of the \(trainTimesteps) training timesteps")
        return bellWeights[k - 1]
    }

    /// x_t = (1 - t) x0 + t eps with one t per batch row (axis 0), in float32 as the release does.
    /// Data-side: the result records no graph.
    public static func noised(x0: Tensor, eps: Tensor, t: [Float]) -> Tensor {
        precondition(x0.shape == eps.shape, "noised: x0 \(x0.shape) and eps \(eps.shape) differ")
        precondition(x0.rank >= 1 && x0.shape[0] == t.count, "noised: \(t.count) timesteps for a batch of shape \(x0.shape)")
        let out = Tensor(uninitialized: x0.shape)
        let row = t.isEmpty ? 0 : x0.count / t.count
        let a = x0.data, e = eps.data, o = out.data
        for (b, tb) in t.enumerated() {
            let keep = 1 - tb
            parallelFor(row, grain: 1 << 15) { r in
                for i in r { o[b * row + i] = keep * a[b * row + i] + tb * e[b * row + i] }
            }
        }
        return out
    }

    /// What a model of `prediction` learns to output at x_t: eps - x0 or x0 (data-side, no graph).
    public static func trainingTarget(_ prediction: PredictionType, x0: Tensor, eps: Tensor) -> Tensor {
        switch prediction {
        case .velocity: return velocityTarget(x0: x0, eps: eps)
        case .sample, .contextResidual: return x0.detached()
        }
    }

    /// The velocity implied by a model output at (x, t): the output itself, or (x - x0) / t for an
    /// x0 estimate (t > 0: the sampler never evaluates at t = 0). Data-side, no graph.
    public static func velocity(from output: Tensor, prediction: PredictionType, x: Tensor, t: Float) -> Tensor {
        switch prediction {
        case .velocity: return output
        case .sample, .contextResidual:
            precondition(t > 0 && x.shape == output.shape, "velocity: x0 estimate \(output.shape) at t = \(t) for x \(x.shape)")
            let v = Tensor(uninitialized: x.shape)
            let a = x.data, b = output.data, o = v.data, inv = 1 / t
            parallelFor(x.count, grain: 1 << 15) { r in
                for i in r { o[i] = (a[i] - b[i]) * inv }
            }
            return v
        }
    }

    /// The velocity the model learns to predict: eps - x0 (data-side, records no graph).
    public static func velocityTarget(x0: Tensor, eps: Tensor) -> Tensor {
        precondition(x0.shape == eps.shape, "velocityTarget: x0 \(x0.shape) and eps \(eps.shape) differ")
        return eps.detached() - x0.detached()
    }

    /// The training loss: per-row MSE between `prediction` and `target`, times the row's
    /// `lossWeight` when `weighted`, averaged over rows (ai-toolkit's `mse * weight` then `mean`).
    /// Differentiable in `prediction`.
    public static func loss(prediction: Tensor, target: Tensor, t: [Float], weighted: Bool = true) -> Tensor {
        reduce(rowErrors(prediction: prediction, target: target, t: t), t: t, weighted: weighted, as: .mean)
    }

    /// The per-row MSE [B] between `prediction` and `target` (one row per timestep). Differentiable.
    public static func rowErrors(prediction: Tensor, target: Tensor, t: [Float]) -> Tensor {
        precondition(prediction.shape == target.shape, "loss: prediction \(prediction.shape) and target \(target.shape) differ")
        precondition(prediction.rank >= 1 && prediction.shape[0] == t.count, "loss: \(t.count) timesteps for a batch of shape \(prediction.shape)")
        return (prediction - target).square().reshaped([t.count, -1]).mean(axis: 1)
    }

    /// How per-row errors become one loss.
    public enum Reduction: String, Codable, Sendable, CaseIterable {
        /// Their mean: the release's.
        case mean
        /// The mean of log(error + `logFloor`): each row counts by the ratio its error changes,
        /// as PSNR, which eval averages over tasks, counts it; under the mean a task whose edit
        /// moves few pixels weighs next to nothing beside one that repaints the picture.
        case log = "log-mse"
    }

    /// Keeps a row copied almost exactly (error 1e-4 in [-1, 1] pixels, 46 dB) from dominating a log loss.
    public static let logFloor: Float = 1e-4

    /// One loss from per-row errors [B], times each row's `lossWeight` when `weighted`. Differentiable.
    public static func reduce(_ rows: Tensor, t: [Float], weighted: Bool, as reduction: Reduction) -> Tensor {
        let perRow = reduction == .log ? (rows + logFloor).log() : rows
        guard weighted else { return perRow.mean() }
        return (perRow * Tensor(shape: [t.count], data: t.map(lossWeight))).mean()
    }

    /// The steps between horizontally and vertically neighbouring pixels of pictures
    /// [B, C, H, W], as rows [B, C (H (W-1) + (H-1) W)]: a loss on them sees a picture's edges,
    /// which a per-pixel loss weighs no more than flat error. Differentiable.
    public static func pixelSteps(_ pictures: Tensor) -> Tensor {
        precondition(pictures.rank == 4, "pixelSteps: pictures \(pictures.shape) are not [B, C, H, W]")
        let (b, h, w) = (pictures.shape[0], pictures.shape[2], pictures.shape[3])
        let across = pictures.sliced(axis: 3, 1..<w) - pictures.sliced(axis: 3, 0..<(w - 1))
        let down = pictures.sliced(axis: 2, 1..<h) - pictures.sliced(axis: 2, 0..<(h - 1))
        return Tensor.concat([across.reshaped([b, -1]), down.reshaped([b, -1])], axis: 1)
    }

    /// The steps between neighbouring pixels of pictures [B, C, H, W] that cross a seam between
    /// `cell` x `cell` tokens (from the last pixel of one token to the first of the next), as rows
    /// [B, C (H (W/cell - 1) + (H/cell - 1) W)]; nil when the pictures hold a single token. A token
    /// grid shows only there, which a loss over every pixel or every step dilutes. Differentiable.
    public static func seamSteps(_ pictures: Tensor, cell: Int) -> Tensor? {
        precondition(pictures.rank == 4 && cell >= 1, "seamSteps: pictures \(pictures.shape) are not [B, C, H, W] or cell \(cell) < 1")
        let (b, h, w) = (pictures.shape[0], pictures.shape[2], pictures.shape[3])
        func steps(axis: Int, size: Int) -> [Tensor] {
            stride(from: cell, to: size, by: cell).map {
                (pictures.sliced(axis: axis, $0..<($0 + 1)) - pictures.sliced(axis: axis, ($0 - 1)..<$0)).reshaped([b, -1])
            }
        }
        let parts = steps(axis: 3, size: w) + steps(axis: 2, size: h)
        return parts.isEmpty ? nil : Tensor.concat(parts, axis: 1)
    }

    // MARK: Euler sampler

    /// One Euler step of the flow ODE from `sigma` to `sigmaNext`: x + (sigmaNext - sigma) v,
    /// in float32 as diffusers' `FlowMatchEulerDiscreteScheduler.step`.
    public static func eulerStep(x: Tensor, v: Tensor, sigma: Float, sigmaNext: Float) -> Tensor {
        precondition(x.shape == v.shape, "eulerStep: x \(x.shape) and v \(v.shape) differ")
        let dt = sigmaNext - sigma
        let out = Tensor(uninitialized: x.shape)
        let a = x.data, b = v.data, o = out.data
        parallelFor(x.count, grain: 1 << 15) { r in
            for i in r { o[i] = a[i] + dt * b[i] }
        }
        return out
    }

    /// Integrates from pure noise (`initialNoise`, at t = 1) to data with `steps` Euler steps on
    /// `samplingSigmas(steps:imageSeqLen:)`. `velocity(x, t)` is the model at time t (the sigma,
    /// in [0, 1]). Runs without recording a graph; deterministic when `velocity` is.
    public static func sample(steps: Int, imageSeqLen: Int, initialNoise: Tensor, config: FlowMatchConfig = .flux,
                              velocity: (Tensor, Float) throws -> Tensor) rethrows -> Tensor
    {
        let sigmas = samplingSigmas(steps: steps, imageSeqLen: imageSeqLen, config: config)
        return try withNoGrad {
            var x = initialNoise
            for i in 0..<steps {
                x = eulerStep(x: x, v: try velocity(x, sigmas[i]), sigma: sigmas[i], sigmaNext: sigmas[i + 1])
            }
            return x
        }
    }
}
