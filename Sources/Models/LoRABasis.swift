import Foundation
import Tensor

// The LoRWeB adapter: a basis of n rank-r LoRAs on one Linear layer, mixed per sample by
// coefficients that come from attention of a query (the encoded analogy) over n learned keys.
// Port of the release's AttLoRAModule (github.com/orincolor/LoRWeB at commit b570167:
// toolkit/models/AttLoRA.py, and `attlora_forward` in toolkit/network_mixins.py):
//
//   alpha_h = softmax(q_h K_h^T / sqrt(kdim/heads))      q = to_q(query), per head h
//   alpha   = mean_h alpha_h          (or sum_h, clamped to [0,1] / [-1,1])
//   y       = W x + b + s * sum_i alpha_i (x A_i) B_i,   s = lora_alpha / r

/// Hyperparameters of one LoRA-basis adapter (the release's `network_kwargs`).
public struct LoRABasisConfig: Codable, Equatable {
    public var n: Int
    public var r: Int
    public var keysDim: Int
    public var queryDim: Int
    public var heads: Int = 1
    /// softmax over the basis (true) or the tanh ablation (false).
    public var softmax: Bool = true
    public var mixing: Mixing = .mean
    /// lora_alpha / r; the Flux trainer forces alpha = r, so 1.
    public var scale: Float = 1

    public enum Mixing: String, Codable { case mean, sum }

    enum CodingKeys: String, CodingKey { case n, r, keysDim = "kdim", queryDim = "qdim", heads, softmax, mixing, scale }

    public init(n: Int, r: Int, keysDim: Int, queryDim: Int, heads: Int = 1, softmax: Bool = true,
                mixing: Mixing = .mean, scale: Float = 1) {
        self.n = n; self.r = r; self.keysDim = keysDim; self.queryDim = queryDim
        self.heads = heads; self.softmax = softmax; self.mixing = mixing; self.scale = scale
    }
}

public final class LoRABasis {
    public let config: LoRABasisConfig
    public let loraA: Tensor     // [n, in, r]
    public let loraB: Tensor     // [n, r, out]
    public let loraKeys: Tensor  // [n, kdim]
    public let toQ: Linear       // att_lora_to_q: [kdim, qdim], no bias

    /// Creates or loads the adapter of a Linear(in, out) under scope `p` (keys `lora_A`,
    /// `lora_B`, `lora_keys`, `att_lora_to_q.weight`).
    public init(_ p: Parameters, inFeatures: Int, outFeatures: Int, config c: LoRABasisConfig) throws {
        precondition(c.keysDim % c.heads == 0, "lora_keys_dim \(c.keysDim) is not divisible by \(c.heads) heads")
        config = c
        // kaiming_uniform(a = sqrt 5) over the 3-D tensor: fan_in = in * r, bound 1/sqrt(fan_in).
        loraA = try p("lora_A", [c.n, inFeatures, c.r], .uniform(bound: 1 / Float(inFeatures * c.r).squareRoot()))
        loraB = try p("lora_B", [c.n, c.r, outFeatures], .zeros)
        loraKeys = try p("lora_keys", [c.n, c.keysDim], .normal(std: 1))
        toQ = try Linear(p.scoped("att_lora_to_q"), c.queryDim, c.keysDim, bias: false)
    }

    /// Mixing coefficients for a batch of queries [B, qdim] -> [B, n].
    public func coefficients(_ query: Tensor) -> Tensor {
        let c = config, b = query.shape[0], dh = c.keysDim / c.heads
        let q = toQ(query).reshaped([b, c.heads, dh]).permuted([1, 0, 2])          // [H, B, dh]
        let k = loraKeys.reshaped([c.n, c.heads, dh]).permuted([1, 0, 2])         // [H, n, dh]
        let logits = q.matmul(k, transposeB: true) * (1 / Float(dh).squareRoot())  // [H, B, n]
        let perHead = c.softmax ? logits.softmax() : logits.tanh()
        switch c.mixing {
        case .mean: return perHead.mean(axis: 0)
        case .sum: return perHead.sum(axis: 0).clamped(min: c.softmax ? 0 : -1, max: 1)
        }
    }

    /// The basis as one rank-n r LoRA: A = [A_1 .. A_n] [in, n r] and B = [B_1; ..; B_n] [n r, out].
    var stackedA: Tensor { loraA.permuted([1, 0, 2]).reshaped([loraA.shape[1], config.n * config.r]) }
    var stackedB: Tensor { loraB.reshaped([config.n * config.r, loraB.shape[2]]) }

    /// s alpha_i for each of basis element i's r channels: [B, n r] for coefficients [B, n].
    func channelScale(_ alpha: Tensor) -> Tensor {
        let c = config, b = alpha.shape[0]
        return alpha.reshaped([b, c.n, 1]).expanded(to: [b, c.n, c.r]).reshaped([b, c.n * c.r]) * c.scale
    }

    /// The base weight [out, in] with the mixed LoRA added, per sample: [B, out, in] for
    /// coefficients [B, n], W + s * sum_i alpha_i (A_i B_i)^T. With the coefficients fixed for a
    /// whole generation (they depend on the analogy alone), every Euler step then runs a plain
    /// Linear: the basis costs one [out, n r] x [n r, in] product per analogy instead of two
    /// products per step, as large as the base product itself on the small model's layers.
    public func merged(into weight: Tensor, coefficients alpha: Tensor) -> Tensor {
        let c = config, b = alpha.shape[0], inF = loraA.shape[1], outF = loraB.shape[2]
        precondition(alpha.shape == [b, c.n] && weight.shape == [outF, inF],
                     "merge: coefficients \(alpha.shape) / weight \(weight.shape) do not fit n \(c.n), [\(outF), \(inF)]")
        let a = stackedA, bStack = stackedB, scales = channelScale(alpha)
        return Tensor.concat((0..<b).map { i in
            (weight + bStack.matmul(a * scales.sliced(axis: 0, i..<(i + 1)), transposeA: true, transposeB: true)).reshaped([1, outF, inF])
        }, axis: 0)
    }

    /// The adapted layer's whole output W x + b + s * sum_i alpha_i (x A_i) B_i for x [B, ..., in]
    /// and coefficients [B, n], as one fused op (one rank-n*r product: x [A_1 .. A_n], scaled per
    /// channel by alpha, times [B_1; ..; B_n]).
    public func adapted(_ x: Tensor, weight: Tensor, bias: Tensor?, coefficients alpha: Tensor) -> Tensor {
        let c = config, b = x.shape[0]
        precondition(alpha.shape == [b, c.n], "coefficients \(alpha.shape) do not match batch \(b) and n \(c.n)")
        return x.loraLinear(weight: weight, bias: bias, a: stackedA, b: stackedB, scale: channelScale(alpha))
    }
}
