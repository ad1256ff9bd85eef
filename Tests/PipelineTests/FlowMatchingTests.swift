import Foundation
import Testing
import Tensor
@testable import Pipeline
import TestSupport

@Suite struct FlowMatchingTests {
    /// Flux's calculate_shift: 0.5 at 256 tokens, 1.15 at 4096, linear between and beyond.
    @Test func shiftIsLinearInTargetTokens() {
        #expect(FlowMatching.calculateShift(imageSeqLen: 256) == 0.5)
        #expect(abs(FlowMatching.calculateShift(imageSeqLen: 4096) - 1.15) < 1e-15)
        // diffusers: calculate_shift(64, 256, 4096, 0.5, 1.15) == 0.46749999999999997
        #expect(FlowMatching.calculateShift(imageSeqLen: 64) == 0.46749999999999997)
        #expect(FlowMatching.timeShift(mu: 0, sigma: 0.25) == 0.25)
        #expect(FlowMatching.timeShift(mu: 0.7, sigma: 1) == 1)
        // e^mu / (e^mu + 1/sigma - 1) with mu = ln 3, sigma = 0.5: 3 / 4.
        #expect(abs(FlowMatching.timeShift(mu: log(3), sigma: 0.5) - 0.75) < 1e-15)
    }

    /// Reference, diffusers 0.42.1 (float32 sigmas, printed exactly):
    /// ```python
    /// s = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True,
    ///     base_image_seq_len=256, max_image_seq_len=4096, base_shift=0.5, max_shift=1.15)
    /// for n, seq in [(28, 64), (28, 4096), (4, 1024)]:
    ///     s.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n), mu=calculate_shift(seq, 256, 4096, 0.5, 1.15))
    ///     print([float(x) for x in s.sigmas.numpy()])
    /// ```
    @Test func samplingSigmasMatchDiffusersExactly() {
        let seq64: [Float] = [
            1.0, 0.97732013463974, 0.9540187120437622, 0.9300699234008789, 0.9054462909698486, 0.8801189064979553,
            0.8540571331977844, 0.8272286653518677, 0.7995991110801697, 0.7711319923400879, 0.7417888045310974,
            0.7115282416343689, 0.6803067922592163, 0.6480778455734253, 0.6147918701171875, 0.5803959965705872,
            0.544833779335022, 0.5080447793006897, 0.46996456384658813, 0.4305237829685211, 0.3896483778953552,
            0.34725838899612427, 0.3032682240009308, 0.25758546590805054, 0.21011051535606384, 0.16073580086231232,
            0.109344981610775, 0.05581198260188103, 0.0,
        ]
        let seq4096: [Float] = [
            1.0, 0.988408625125885, 0.9762224555015564, 0.9633944034576416, 0.9498725533485413, 0.9355989098548889,
            0.9205089807510376, 0.9045307636260986, 0.8875834345817566, 0.8695759177207947, 0.8504056930541992,
            0.8299564123153687, 0.8080955147743225, 0.7846716046333313, 0.7595109343528748, 0.7324128150939941,
            0.7031447291374207, 0.6714348196983337, 0.6369644999504089, 0.5993567109107971, 0.5581628680229187,
            0.5128441452980042, 0.4627484083175659, 0.40707841515541077, 0.3448489308357239, 0.2748279869556427,
            0.19545459747314453, 0.10472089797258377, 0.0,
        ]
        #expect(FlowMatching.samplingSigmas(steps: 28, imageSeqLen: 64) == seq64)
        #expect(FlowMatching.samplingSigmas(steps: 28, imageSeqLen: 4096) == seq4096)
        #expect(FlowMatching.samplingSigmas(steps: 4, imageSeqLen: 1024) == [1.0, 0.8492348194122314, 0.652489423751831, 0.38494473695755005, 0.0])
        #expect(FlowMatching.samplingSigmas(steps: 1, imageSeqLen: 256) == [1, 0])
    }

    /// Reference, ai-toolkit's CustomFlowMatchEulerDiscreteScheduler (torch 2.15, float32):
    /// ```python
    /// x = torch.arange(1000, dtype=torch.float32)
    /// y = torch.exp(-2 * ((x - 500) / 1000) ** 2); ys = y - y.min(); w = ys * (1000 / ys.sum())
    /// ts = torch.linspace(1000, 1, 1000)   # w[i] weights timestep ts[i]
    /// ```
    @Test func bellWeightingHasMeanOneAndMinimumZero() {
        let w = FlowMatching.bellWeights
        #expect(w.count == 1000)
        #expect(abs(w.reduce(0.0) { $0 + Double($1) } / 1000 - 1) < 1e-6)
        #expect(w.min() == 0 && FlowMatching.lossWeight(1.0) == 0)
        let torch: [(Int, Float)] = [(999, 0.004869713447988033), (1, 0.004869713447988033), (750, 1.107882022857666),
                                     (500, 1.5796048641204834), (250, 1.107882022857666), (400, 1.5001113414764404),
                                     (900, 0.4802146255970001), (100, 0.4802146255970001)]
        for (k, expected) in torch {
            let got = FlowMatching.lossWeight(Float(k) / 1000)
            #expect(abs(got - expected) <= 2e-7 * max(1, expected), "w(\(k)) = \(got), torch \(expected)")
        }
    }

    @Test func trainingTimestepsAreTheThousandDiscreteSteps() {
        var rng = RNG(seed: 3)
        var seen = Set<Int>()
        for _ in 0..<20_000 {
            let t = FlowMatching.trainingTimestep(rng: &rng)
            let k = Int((t * 1000).rounded())
            #expect(t == Float(k) / 1000 && (1...1000).contains(k))
            seen.insert(k)
        }
        // 20 draws per value on average: every value appears (miss probability ~ 1000 e^-20).
        #expect(seen.count == 1000)
        var a = RNG(seed: 9), b = RNG(seed: 9)
        #expect(FlowMatching.trainingTimesteps(batch: 5, rng: &a) == FlowMatching.trainingTimesteps(batch: 5, rng: &b))
    }

    /// x_t = (1 - t) x0 + t eps per row; target eps - x0; loss = mean over rows of w(t) * MSE.
    @Test func noisingTargetAndWeightedLossByHand() {
        let x0 = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
        let eps = Tensor(shape: [2, 2], data: [0, 0, 1, -1])
        let xt = FlowMatching.noised(x0: x0, eps: eps, t: [0.25, 1])
        #expect(xt.toArray() == [0.75, 1.5, 1, -1])
        #expect(FlowMatching.velocityTarget(x0: x0, eps: eps).toArray() == [-1, -2, -2, -5])

        let prediction = Tensor(shape: [2, 2], data: [1, 1, 0, 0])
        prediction.requiresGrad = true
        let target = Tensor(shape: [2, 2], data: [0, 0, 0, 2])
        // Row MSEs 1 and 2; weights w(400) = 1.5001113 and w(900) = 0.4802146.
        let t: [Float] = [0.4, 0.9]
        let unweighted = FlowMatching.loss(prediction: prediction, target: target, t: t, weighted: false)
        #expect(unweighted.item() == 1.5)
        let loss = FlowMatching.loss(prediction: prediction, target: target, t: t)
        #expect(abs(loss.item() - (1 * 1.5001113 + 2 * 0.4802146) / 2) < 1e-6)
        loss.backward()
        // d/dp of w_b * mean_row((p - y)^2) / B = w_b (p - y) / (row length * B / 2) = w_b (p - y) / 2.
        let g = prediction.grad!.toArray()
        #expect(abs(g[0] - 1.5001113 / 2) < 1e-6 && abs(g[3] - 0.4802146 * -2 / 2) < 1e-6)
    }

    @Test func theLogReductionByHandAndItsGradient() {
        let prediction = Tensor(shape: [2, 2], data: [1, 1, 0, 0])
        prediction.requiresGrad = true
        let target = Tensor(shape: [2, 2], data: [0, 0, 0, 2])
        let t: [Float] = [0.4, 0.9]
        // Row MSEs 1 and 2: the mean of their logs (plus the floor), unweighted and bell-weighted.
        let rows = FlowMatching.rowErrors(prediction: prediction, target: target, t: t)
        let f = FlowMatching.logFloor
        let plain = (log(1 + f) + log(2 + f)) / 2
        #expect(abs(FlowMatching.reduce(rows, t: t, weighted: false, as: .log).item() - plain) < 1e-6)
        let bell = (log(1 + f) * 1.5001113 + log(2 + f) * 0.4802146) / 2
        #expect(abs(FlowMatching.reduce(rows, t: t, weighted: true, as: .log).item() - bell) < 1e-6)
        // d/dp of log(mean_row((p - y)^2) + f) / B = (p - y) / ((row MSE + f) * B): a row's pull is its
        // error's relative change, so the row with twice the error pulls half as hard per unit.
        FlowMatching.reduce(rows, t: t, weighted: false, as: .log).backward()
        let g = prediction.grad!.toArray()
        let want: [Float] = [1 / (1 + f) / 2, 1 / (1 + f) / 2, 0, -2 / (2 + f) / 2]
        #expect(zip(g, want).allSatisfy { abs($0 - $1) < 1e-6 }, "gradient \(g), want \(want)")
    }

    @Test func pixelStepsSeeEdgesNotFlatError() {
        // One picture [1, 1, 2, 3]: steps across (2 rows of 2), then down (1 row of 3).
        let picture = Tensor(shape: [1, 1, 2, 3], data: [1, 2, 4, 0, 0, 1])
        #expect(FlowMatching.pixelSteps(picture).toArray() == [1, 2, 0, 1, -1, -2, -3])
        // An error that is the same everywhere costs nothing; a block edge does.
        let truth = Tensor(shape: [2, 3, 8, 8], data: (0..<384).map { Float($0 % 7) / 7 })
        let flat = truth + 0.3
        let block = truth + Tensor(shape: [1, 1, 8, 8], data: (0..<64).map { $0 % 8 < 4 ? 0.3 : 0 })
        let t: [Float] = [1, 1]
        #expect(FlowMatching.loss(prediction: FlowMatching.pixelSteps(flat), target: FlowMatching.pixelSteps(truth), t: t, weighted: false).item() < 1e-10)
        #expect(FlowMatching.loss(prediction: FlowMatching.pixelSteps(block), target: FlowMatching.pixelSteps(truth), t: t, weighted: false).item() > 1e-3)
        // Its gradient is the transposed difference: d/dx of 1/2 |steps(x)|^2 at a lone 1 in the
        // corner is [2, -1 right, -1 below].
        let one = Tensor(shape: [1, 1, 2, 2], data: [1, 0, 0, 0])
        one.requiresGrad = true
        (FlowMatching.pixelSteps(one).square().sum() * 0.5).backward()
        #expect(one.grad!.toArray() == [2, -1, -1, 0])
    }

    @Test func seamStepsSeeOnlyTheStepsBetweenTokens() {
        // One picture [1, 1, 4, 4] of 2 x 2 tokens: across the seam between columns 1 and 2 (4
        // rows), then down the seam between rows 1 and 2 (4 columns).
        let picture = Tensor(shape: [1, 1, 4, 4], data: (0..<16).map { Float($0 * $0) })
        #expect(FlowMatching.seamSteps(picture, cell: 2)!.toArray() == [3, 11, 19, 27, 48, 56, 64, 72])
        #expect(FlowMatching.seamSteps(picture, cell: 4) == nil, "one token has no seam")
        // A patchwork of 8 x 8 tokens each shifted by its own amount costs at the seams only; a
        // smooth edit of the same size costs (nearly) nothing there.
        let truth = Tensor(shape: [2, 3, 16, 16], data: (0..<1536).map { Float($0 % 5) / 5 })
        let patchwork = truth + Tensor(shape: [1, 1, 16, 16], data: (0..<256).map { ($0 / 16 / 8 + $0 % 16 / 8) % 2 == 0 ? 0.3 : 0 })
        let ramp = truth + Tensor(shape: [1, 1, 16, 16], data: (0..<256).map { Float($0 % 16) * 0.02 })
        func cost(_ made: Tensor) -> Float {
            FlowMatching.loss(prediction: FlowMatching.seamSteps(made, cell: 8)!, target: FlowMatching.seamSteps(truth, cell: 8)!,
                              t: [1, 1], weighted: false).item()
        }
        #expect(abs(cost(patchwork) - 0.09) < 1e-6 && cost(ramp) < 1e-3, "patchwork \(cost(patchwork)), ramp \(cost(ramp))")
        // Its gradient reaches the two pixels of each seam step with opposite signs.
        let one = Tensor(shape: [1, 1, 2, 2], data: [0, 1, 0, 0])
        one.requiresGrad = true
        (FlowMatching.seamSteps(one, cell: 1)!.square().sum() * 0.5).backward()
        // Steps across: (0,1)-(0,0) = 1, (1,1)-(1,0) = 0; down: (1,0)-(0,0) = 0, (1,1)-(0,1) = -1.
        #expect(one.grad!.toArray() == [-1, 2, 0, -1])
    }

    /// On a straight path the exact velocity field is constant along the trajectory, so Euler
    /// recovers x0 from any noise, whatever the schedule.
    @Test func eulerSamplerFollowsTheStraightPath() {
        var rng = RNG(seed: 5)
        let x0 = rng.normal([2, 3, 4])
        let noise = rng.normal([2, 3, 4])
        let velocity = { (x: Tensor, t: Float) -> Tensor in (x - x0) * (1 / t) }
        let out = FlowMatching.sample(steps: 7, imageSeqLen: 600, initialNoise: noise, velocity: velocity)
        let worst = zip(out.toArray(), x0.toArray()).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4)
        let again = FlowMatching.sample(steps: 7, imageSeqLen: 600, initialNoise: noise, velocity: velocity)
        #expect(again.toArray() == out.toArray())

        let step = FlowMatching.eulerStep(x: Tensor(shape: [2], data: [1, 2]), v: Tensor(shape: [2], data: [4, -4]),
                                          sigma: 0.75, sigmaNext: 0.5)
        #expect(step.toArray() == [0, 3])
    }

    /// x-prediction's conventions: an exact x0 estimate gives exactly the flow's velocity
    /// eps - x0, and the training target of each prediction type is what it predicts.
    @Test func sampleAndVelocityPredictionsAgree() {
        var rng = RNG(seed: 9)
        let x0 = rng.normal([2, 5]), eps = rng.normal([2, 5])
        for t: Float in [1, 0.6, 0.05] {
            let xt = FlowMatching.noised(x0: x0, eps: eps, t: [t, t])
            let v = FlowMatching.velocity(from: x0, prediction: .sample, x: xt, t: t)
            let worst = zip(v.toArray(), (eps - x0).toArray()).map { abs($0 - $1) }.max()!
            #expect(worst < 2e-4 / t, "t = \(t): \(worst)")
        }
        #expect(FlowMatching.velocity(from: eps, prediction: .velocity, x: x0, t: 0.3).toArray() == eps.toArray())
        #expect(FlowMatching.trainingTarget(.sample, x0: x0, eps: eps).toArray() == x0.toArray())
        #expect(FlowMatching.trainingTarget(.velocity, x0: x0, eps: eps).toArray() == (eps - x0).toArray())
    }

    /// The small base's training times: logit(t) ~ N(1.5, 1), clipped to [0.001, 1], deterministic.
    @Test func logitNormalTimestepsHaveTheirMoments() {
        var rng = RNG(seed: 4), again = RNG(seed: 4)
        let t = (0..<20000).map { _ in FlowMatching.logitNormalTimestep(mean: 1.5, std: 1, rng: &rng) }
        #expect(t == (0..<20000).map { _ in FlowMatching.logitNormalTimestep(mean: 1.5, std: 1, rng: &again) })
        #expect(t.allSatisfy { $0 >= 0.001 && $0 <= 1 })
        let logits = t.map { log(Double($0) / (1 - Double($0))) }
        let mean = logits.reduce(0, +) / Double(logits.count)
        let std = (logits.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(logits.count)).squareRoot()
        #expect(abs(mean - 1.5) < 0.03 && abs(std - 1) < 0.03, "mean \(mean), std \(std)")
        // Most draws are at high noise, where an editor decides what the context determines.
        #expect(Double(t.filter { $0 > 0.5 }.count) / Double(t.count) > 0.9)
    }

    /// Flux's sampling conventions at the small world's size: 64 target tokens shift the schedule
    /// by mu = calculate_shift(64) = 0.4675 (e^mu = 1.596), and the sampler starts at pure noise.
    @Test func smallWorldScheduleShift() {
        #expect(abs(FlowMatching.calculateShift(imageSeqLen: 64) - 0.4675) < 1e-12)
        let sigmas = FlowMatching.samplingSigmas(steps: 28, imageSeqLen: 64)
        #expect(sigmas.count == 29 && sigmas[0] == 1 && sigmas[28] == 0)
        let second = 1 - (1 - 1 / 28.0) / 27, s = exp(0.4675)   // NumPy's linspace(1, 1/28, 28)[1], shifted
        #expect(abs(Double(sigmas[1]) - s / (s + (1 / second - 1))) < 1e-6)
    }
}
