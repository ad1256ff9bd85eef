import Foundation
import Tensor
@testable import Training
import TestSupport

// Shared fixtures of the training tests: a tiny regression model and scratch folders.

/// A 2-layer tanh MLP regressing sin(x1 + x2 - x3 + x4 / 2) from 4 inputs, 32 samples. Every
/// step adds input noise drawn from the step's generator, so resuming also tests the RNG.
final class TinyRegression {
    let w1: Tensor, b1: Tensor, w2: Tensor
    let inputs: Tensor, targets: Tensor
    static let samples = 32

    init(seed: UInt64, hidden: Int = 16) {
        var rng = RNG(seed: seed)
        w1 = rng.normal([4, hidden], std: 0.5)
        b1 = Tensor.zeros([hidden])
        w2 = rng.normal([hidden, 1], std: 1 / Float(hidden).squareRoot())
        for t in [w1, b1, w2] { t.requiresGrad = true }
        // The data do not depend on the model's seed.
        var data = RNG(seed: 100)
        inputs = data.uniform([Self.samples, 4], low: -1, high: 1)
        let x = inputs.toArray()
        targets = Tensor(shape: [Self.samples, 1], data: (0..<Self.samples).map { i in
            sin(x[4 * i] + x[4 * i + 1] - x[4 * i + 2] + x[4 * i + 3] / 2)
        })
    }

    var parameters: [(key: String, tensor: Tensor)] { [("mlp.0.weight", w1), ("mlp.0.bias", b1), ("mlp.2.weight", w2)] }

    func loss(batch: [Int], rng: RNG) -> Tensor {
        var rng = rng
        let x = inputs.indexSelect(batch) + rng.normal([batch.count, 4], std: 0.01)
        let prediction = (x.matmul(w1) + b1).tanh().matmul(w2)
        return (prediction - targets.indexSelect(batch)).square().mean()
    }

    /// The bits of every parameter, for bit-identity checks.
    var bits: [[UInt32]] { parameters.map { $0.tensor.toArray().map(\.bitPattern) } }
}
