import Foundation
import Tensor

// The building blocks shared by the models, each holding the tensors of one upstream module
// under its upstream key names (`weight`, `bias`), initialised as PyTorch initialises them.

/// What the LoRA-basis adapters of a forward pass mix by: the analogy's query, from which every
/// adapter computes its own coefficients (training), or the base weights with the mixed LoRAs
/// merged in, keyed by the adapter's identity (generating, where the coefficients stay fixed).
public enum AdapterInput {
    /// [B, qdim]
    case query(Tensor)
    /// [B, out, in] per adapter: the base weight with the mixed LoRA already added
    /// (``LoRABasis/merged(into:coefficients:)``), for a generation whose coefficients stay fixed.
    case mergedWeights([ObjectIdentifier: Tensor])
}

/// torch.nn.Linear: weight [out, in], optional bias [out]; y = x W^T + b, plus the output of
/// a LoRA-basis adapter when one is attached and a query is given.
public final class Linear {
    public let weight: Tensor
    public let bias: Tensor?
    public var adapter: LoRABasis?

    public init(_ p: Parameters, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) throws {
        // PyTorch: kaiming_uniform(a = sqrt 5) on the weight = U(+-1/sqrt(in)); bias U(+-1/sqrt(in)).
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = try p("weight", [outFeatures, inFeatures], .uniform(bound: bound))
        self.bias = bias ? try p("bias", [outFeatures], .uniform(bound: bound)) : nil
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor, query: Tensor? = nil) -> Tensor {
        self(x, adapters: query.map(AdapterInput.query))
    }

    public func callAsFunction(_ x: Tensor, adapters input: AdapterInput?) -> Tensor {
        guard let adapter, let input else { return x.linear(weight, bias) }
        switch input {
        case .query(let query): return adapter.adapted(x, weight: weight, bias: bias, coefficients: adapter.coefficients(query))
        case .mergedWeights(let table):
            guard let w = table[ObjectIdentifier(adapter)] else { preconditionFailure("no merged weight given for an attached adapter") }
            let b = w.shape[0]
            if b == 1 { return x.linear(w.reshaped([outFeatures, inFeatures]), bias) }
            precondition(x.shape[0] == b, "merged weights for \(b) samples, input \(x.shape)")
            let y = x.reshaped([b, -1, inFeatures]).matmul(w, transposeB: true)
            return (bias.map { y + $0 } ?? y).reshaped(Array(x.shape.dropLast()) + [outFeatures])
        }
    }
}

/// torch.nn.LayerNorm over the last axis, with or without affine parameters.
public final class LayerNorm {
    public let weight: Tensor?
    public let bias: Tensor?
    public let eps: Float

    public init(_ p: Parameters, _ dim: Int, eps: Float = 1e-5, affine: Bool = true) throws {
        weight = affine ? try p("weight", [dim], .ones) : nil
        bias = affine ? try p("bias", [dim], .zeros) : nil
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// diffusers' RMSNorm (weight only): x * rsqrt(mean(x^2) + eps) * weight.
public final class RMSNorm {
    public let weight: Tensor
    public let eps: Float

    public init(_ p: Parameters, _ dim: Int, eps: Float = 1e-6) throws {
        weight = try p("weight", [dim], .ones)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.rmsNorm(weight: weight, eps: eps) }
}

/// torch.nn.Embedding: weight [count, dim], N(0, 1) init.
public final class Embedding {
    public let weight: Tensor

    public init(_ p: Parameters, _ count: Int, _ dim: Int) throws {
        weight = try p("weight", [count, dim], .normal(std: 1))
    }

    public func callAsFunction(_ ids: [Int]) -> Tensor { weight.indexSelect(ids) }
}
