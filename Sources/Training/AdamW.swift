import Foundation
import Tensor

/// AdamW's hyperparameters (PyTorch's names and defaults; the learning rate is the base rate
/// that an `LRSchedule` scales).
public struct AdamWConfig: Codable, Equatable, Sendable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }

    enum CodingKeys: String, CodingKey {
        case learningRate = "lr", beta1, beta2, eps, weightDecay = "weight_decay"
    }
}

/// Adam with decoupled weight decay, with PyTorch's `torch.optim.AdamW` semantics (the
/// single-tensor path, float32 arithmetic in the same order), so a step matches PyTorch to the
/// last bit or two:
///
///     p <- p * (1 - lr * wd)
///     m <- m + (1 - beta1) (g - m)             v <- beta2 v + (1 - beta2) g^2
///     p <- p - lr / (1 - beta1^k) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)
///
/// with k the parameter's own step count. A parameter whose `grad` is nil is skipped entirely
/// (no decay, no count), as in PyTorch. Parameters are leaves updated in place through their
/// `data`; gradients are read, never written, and reset to nil after the step.
///
/// ```swift
/// let adam = AdamW(adapters.namedParameters, config: AdamWConfig(learningRate: 1e-3, beta2: 0.99, weightDecay: 0.05))
/// loss.backward()
/// adam.step(learningRate: 1e-3)
/// ```
public final class AdamW {
    public var config: AdamWConfig
    /// The optimised tensors with their keys, in a fixed order (the order of every loop here).
    public let parameters: [(key: String, tensor: Tensor)]
    /// First and second moment estimates, one pair per parameter (zeros before the first step).
    public private(set) var moments: [(m: Tensor, v: Tensor)]
    /// Steps taken by each parameter.
    public private(set) var steps: [Int]

    public init(_ parameters: [(key: String, tensor: Tensor)], config: AdamWConfig) {
        var seen = Set<String>()
        for (key, t) in parameters {
            precondition(seen.insert(key).inserted, "AdamW: parameter key \(key) appears twice")
            precondition(t.requiresGrad, "AdamW: parameter \(key) does not require gradients")
        }
        self.config = config
        self.parameters = parameters
        moments = parameters.map { (Tensor.zeros($0.tensor.shape), Tensor.zeros($0.tensor.shape)) }
        steps = Array(repeating: 0, count: parameters.count)
    }

    /// The parameters' current gradients, in order (nil where none was computed).
    public var gradients: [Tensor?] { parameters.map(\.tensor.grad) }

    /// Drops every gradient (after a step, or to discard a failed one).
    public func zeroGrad() {
        for (_, t) in parameters { t.grad = nil }
    }

    /// Updates every parameter that has a gradient with `learningRate`, then drops the gradients.
    public func step(learningRate lr: Double) {
        for (i, (key, p)) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            precondition(g.shape == p.shape, "AdamW: gradient of \(key) has shape \(g.shape), parameter \(p.shape)")
            steps[i] += 1
            update(p, grad: g, m: moments[i].m, v: moments[i].v, step: steps[i], lr: lr)
        }
        zeroGrad()
    }

    /// One parameter's update. Scalars are formed in Float64 as PyTorch forms them in Python and
    /// enter the float32 kernel rounded, exactly as PyTorch passes Python numbers to its kernels.
    private func update(_ p: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: Int, lr: Double) {
        let c = config
        let decay = Float(1 - lr * c.weightDecay)
        let w1 = Float(1 - c.beta1), b2 = Float(c.beta2), w2 = Float(1 - c.beta2)
        let stepSize = Float(-(lr / (1 - pow(c.beta1, Double(step)))))
        let correction2 = Float((1 - pow(c.beta2, Double(step))).squareRoot())
        let eps = Float(c.eps)
        let pp = p.data, gp = grad.data, mp = m.data, vp = v.data
        parallelFor(p.count, grain: 1 << 14) { r in
            for i in r {
                let g = gp[i]
                // torch.lerp with weight < 0.5: m + w (g - m).
                let mi = mp[i] + w1 * (g - mp[i])
                let vi = vp[i] * b2 + w2 * g * g
                let denom = vi.squareRoot() / correction2 + eps
                mp[i] = mi
                vp[i] = vi
                pp[i] = pp[i] * decay + stepSize * mi / denom
            }
        }
    }

    // MARK: State

    /// The optimizer's state in a form a checkpoint stores: config, per-parameter step counts
    /// and moments, by parameter key.
    public var state: AdamWState {
        var s = AdamWState(config: config)
        for (i, (key, _)) in parameters.enumerated() {
            s.steps[key] = steps[i]
            s.m[key] = moments[i].m
            s.v[key] = moments[i].v
        }
        return s
    }

    /// Restores `state`'s step counts and moments (copied into this optimizer's). Every parameter
    /// key must be present with its shape, and no other key. The hyperparameters stay this
    /// optimizer's: the caller's config is the intent, the stored one is provenance.
    public func load(_ state: AdamWState) throws {
        let keys = Set(parameters.map(\.key))
        if let extra = state.steps.keys.first(where: { !keys.contains($0) }) {
            throw TrainingError.mismatch("the checkpoint's optimizer state has a parameter '\(extra)' this model does not have")
        }
        for (i, (key, p)) in parameters.enumerated() {
            guard let k = state.steps[key], let m = state.m[key], let v = state.v[key] else {
                throw TrainingError.mismatch("the checkpoint's optimizer state lacks parameter '\(key)'")
            }
            guard m.shape == p.shape, v.shape == p.shape else {
                throw TrainingError.mismatch("optimizer moments of '\(key)' have shape \(m.shape), the parameter \(p.shape)")
            }
            moments[i].m.data.update(from: m.data, count: m.count)
            moments[i].v.data.update(from: v.data, count: v.count)
            steps[i] = k
        }
    }
}

/// A snapshot of `AdamW`'s state, keyed by parameter.
public struct AdamWState {
    public var config: AdamWConfig
    public var steps: [String: Int] = [:]
    public var m: [String: Tensor] = [:]
    public var v: [String: Tensor] = [:]

    public init(config: AdamWConfig) { self.config = config }
}
