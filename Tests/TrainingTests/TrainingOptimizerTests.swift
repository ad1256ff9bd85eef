import Foundation
import Testing
import Tensor
@testable import Training
import TestSupport

/// Parameters are leaves that require gradients; `values` are their initial data.
private func parameter(_ shape: [Int], _ values: [Float]) -> Tensor {
    let t = Tensor(shape: shape, data: values)
    t.requiresGrad = true
    return t
}

/// |a - b| within a few float32 ulps of the larger magnitude. (Measured: AdamW's parameters equal
/// PyTorch's bits, one moment differs by 1 ulp (PyTorch's vectorised lerp); clipped gradients by
/// 1-2 ulps, since our norm is accumulated in Float64 and PyTorch's in float32.)
private func close(_ a: [Float], _ b: [Float], ulps: Float = 4) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= ulps * Float.ulpOfOne * max(abs($0), abs($1), 1e-3) }
}

// Serialized: the determinism test changes `Runtime.threads`.
@Suite(.serialized) struct TrainingOptimizerTests {
    /// Reference, torch 2.15 (CPU, float32):
    /// ```python
    /// p = torch.tensor([0.5, -1.25, 2.0, 0.0], requires_grad=True)
    /// q = torch.tensor([[0.1, -0.2], [0.3, 4.0]], requires_grad=True)
    /// opt = torch.optim.AdamW([p, q], lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05)
    /// grads = [([0.1, -0.3, 0.0, 2.0], [[1.0, -1.0], [0.5, 0.25]]),
    ///          ([-0.2, 0.4, 1e-3, -1.0], [[0.0, 3.0], [-0.5, 0.125]]),
    ///          ([0.3, 0.3, -5.0, 0.5], [[2.0, -2.0], [1e-4, 7.0]])]
    /// for gp, gq in grads:
    ///     p.grad = torch.tensor(gp); q.grad = torch.tensor(gq); opt.step()
    /// ```
    @Test func adamWMatchesPyTorchOverThreeSteps() {
        let p = parameter([4], [0.5, -1.25, 2.0, 0.0])
        let q = parameter([2, 2], [0.1, -0.2, 0.3, 4.0])
        let adam = AdamW([("p", p), ("q", q)], config: AdamWConfig(learningRate: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.05))
        let grads: [([Float], [Float])] = [([0.1, -0.3, 0.0, 2.0], [1.0, -1.0, 0.5, 0.25]),
                                           ([-0.2, 0.4, 1e-3, -1.0], [0.0, 3.0, -0.5, 0.125]),
                                           ([0.3, 0.3, -5.0, 0.5], [2.0, -2.0, 1e-4, 7.0])]
        for (gp, gq) in grads {
            p.grad = Tensor(shape: [4], data: gp)
            q.grad = Tensor(shape: [2, 2], data: gq)
            adam.step(learningRate: 1e-3)
            #expect(p.grad == nil && q.grad == nil)
        }
        #expect(close(p.toArray(), [0.498948335647583, -1.2494629621505737, 1.9995933771133423, -0.001608120510354638]))
        #expect(close(q.toArray(), [0.09751279652118683, -0.19944460690021515, 0.29904842376708984, 3.996802568435669]))
        #expect(close(adam.moments[0].m.toArray(), [0.020100001245737076, 0.04170000180602074, -0.49991002678871155, 0.12200000137090683]))
        #expect(close(adam.moments[0].v.toArray(), [0.0013940101489424706, 0.0033660901244729757, 0.25, 0.051603998988866806]))
        #expect(adam.steps == [3, 3])
    }

    /// PyTorch skips a parameter without a gradient: no decay, no step count.
    @Test func parameterWithoutGradientIsUntouched() {
        let p = parameter([2], [1, 2]), q = parameter([1], [3])
        let adam = AdamW([("p", p), ("q", q)], config: AdamWConfig(weightDecay: 0.5))
        p.grad = Tensor(shape: [2], data: [1, 1])
        adam.step(learningRate: 0.1)
        #expect(q.toArray() == [3] && adam.steps == [1, 0])
        #expect(p.toArray() != [1, 2])
    }

    /// Reference, torch 2.15:
    /// ```python
    /// a.grad = torch.tensor([3.0, -4.0, 12.0]); b.grad = torch.tensor([[1.0, 2.0], [-2.0, 4.0]])
    /// torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)   # 13.928388595581055
    /// a.grad = torch.tensor([0.3, -0.4, 0.0]); b.grad = torch.zeros(2, 2)   # norm 0.5: unchanged
    /// ```
    @Test func clippingMatchesPyTorch() {
        let a = parameter([3], [0, 0, 0]), b = parameter([2, 2], [0, 0, 0, 0]), c = parameter([1], [0])
        a.grad = Tensor(shape: [3], data: [3, -4, 12])
        b.grad = Tensor(shape: [2, 2], data: [1, 2, -2, 4])
        let original = a.grad!
        let norm = GradientClipping.clip([a, b, c], maxNorm: 1)
        #expect(abs(norm - 13.928388595581055) < 1e-6)
        #expect(close(a.grad!.toArray(), [0.21538741886615753, -0.2871832251548767, 0.8615496754646301]))
        #expect(close(b.grad!.toArray(), [0.07179580628871918, 0.14359161257743835, -0.14359161257743835, 0.2871832251548767]))
        #expect(original.toArray() == [3, -4, 12], "gradients are replaced, never scaled in place")
        #expect(c.grad == nil)

        a.grad = Tensor(shape: [3], data: [0.3, -0.4, 0])
        b.grad = Tensor.zeros([2, 2])
        #expect(abs(GradientClipping.clip([a, b], maxNorm: 1) - 0.5) < 1e-7)
        #expect(a.grad!.toArray() == [0.3, -0.4, 0])

        a.grad = Tensor(shape: [3], data: [1, .nan, 0])
        #expect(GradientClipping.clip([a, b], maxNorm: 1).isNaN)
    }

    @Test func learningRateSchedules() {
        #expect(LRSchedule.constant.learningRate(at: 123, base: 1e-3) == 1e-3)
        let warm = LRSchedule.warmupConstant(warmup: 4)
        #expect((0..<6).map { warm.factor(at: $0) } == [0.25, 0.5, 0.75, 1, 1, 1])
        // Warm-up 2 of 6 steps, then cosine over 4: progress 0, 1/4, 2/4, 3/4 -> 1, (1 + cos(pi/4))/2, 1/2, (1 - cos(pi/4))/2.
        let cosine = LRSchedule.warmupCosine(warmup: 2, total: 6, minFactor: 0)
        let expected = [0.5, 1, 1, 0.5 + 0.5 * 0.5.squareRoot(), 0.5, 0.5 - 0.5 * 0.5.squareRoot()]
        for (s, e) in expected.enumerated() { #expect(abs(cosine.factor(at: s) - e) < 1e-15, "step \(s)") }
        // minFactor 0.1: halfway is 0.1 + 0.9 / 2; past the end it stays at the floor.
        let floored = LRSchedule.warmupCosine(warmup: 0, total: 10, minFactor: 0.1)
        #expect(abs(floored.factor(at: 5) - 0.55) < 1e-15 && abs(floored.factor(at: 50) - 0.1) < 1e-15)
    }

    /// The norm and the update are the same bits for 1 and 2 threads (tensors large enough to split).
    @Test func optimizerIsDeterministicAcrossThreadCounts() {
        func run(threads: Int) -> ([Float], Double) {
            let saved = Runtime.threads
            Runtime.threads = threads
            defer { Runtime.threads = saved }
            var rng = RNG(seed: 11)
            let p = rng.normal([300, 250]); p.requiresGrad = true
            let adam = AdamW([("w", p)], config: AdamWConfig(weightDecay: 0.05))
            var norm = 0.0
            for _ in 0..<3 {
                p.grad = rng.normal([300, 250], std: 0.1)
                norm = GradientClipping.clip([p], maxNorm: 1)
                adam.step(learningRate: 1e-2)
            }
            return (p.toArray(), norm)
        }
        let one = run(threads: 1), two = run(threads: 2)
        #expect(one.0 == two.0 && one.1 == two.1)
    }
}
