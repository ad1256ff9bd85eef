import Formats
import Models
import Tensor

// The Flux-Kontext input layout: the tokens being generated (the target image's latents,
// first position coordinate 0) followed by the conditioning image's tokens (coordinate 1) in
// one sequence, plus the prompt's text tokens and pooled vector.
//
// Legend: B batch, St target tokens, Sc context tokens, C token width (4 x latent channels).

public struct KontextBatch {
    /// Clean target latents as tokens [B, St, C] (x0 of the flow).
    public let target: Tensor
    /// Conditioning image tokens [B, Sc, C].
    public let context: Tensor
    /// Position ids [St + Sc, 3].
    public let imgIds: Tensor
    /// Text tokens [B, T, J], their ids [T, 3] (zeros, as Flux uses) and pooled vectors [B, P].
    public let text: Tensor, txtIds: Tensor, pooled: Tensor
    /// Latent height and width of the target (for unpacking generated tokens).
    public let latentHeight: Int, latentWidth: Int

    /// Encodes images (all targets one size, all contexts one size) and prompts.
    public init(targets: [Image], contexts: [Image], prompts: [String], codec: LatentCodec, textEncoder: TextEncoder) {
        precondition(targets.count == contexts.count && targets.count == prompts.count, "batch: \(targets.count) targets, \(contexts.count) contexts, \(prompts.count) prompts")
        func tokens(_ images: [Image]) -> (Tensor, Int, Int) {
            let pixels = Tensor.concat(images.map { $0.rgb().tensor(range: .signed).reshaped([1, 3, $0.height, $0.width]) }, axis: 0)
            let latents = codec.encode(pixels)   // [B, c, h, w]
            return (FluxPacking.pack(latents), latents.shape[2], latents.shape[3])
        }
        let (t, th, tw) = tokens(targets), (c, ch, cw) = tokens(contexts)
        target = t
        context = c
        latentHeight = th
        latentWidth = tw
        imgIds = Tensor.concat([FluxPacking.imageIds(height: th, width: tw, first: 0),
                                FluxPacking.imageIds(height: ch, width: cw, first: 1)], axis: 0)
        (text, pooled) = textEncoder.encode(prompts)
        txtIds = Tensor.zeros([text.shape[1], 3])
    }

    public var batchSize: Int { target.shape[0] }

    /// The flow's state at t = 1 for these target tokens, from Gaussian `noise` of their shape:
    /// the noise itself, or the context plus `sigma` times it (data-side, no graph).
    public func flowStart(_ start: FlowStart, noise: Tensor) -> Tensor {
        precondition(noise.shape == target.shape, "flowStart: noise \(noise.shape) for targets \(target.shape)")
        switch start {
        case .noise: return noise
        case let .context(sigma):
            precondition(context.shape == target.shape, "a context-sourced flow needs target and context of one layout: target \(target.shape), context \(context.shape)")
            return context.detached() + noise.detached() * sigma
        }
    }

    /// The transformer's estimate for the target tokens of the noisy state `x` [B, St, C] at times
    /// `t` [B] in [0, 1], with guidance `guidance` [B] and the adapters mixed by a query or by given
    /// coefficients, in the terms of `prediction`: a velocity or x0 (for `.contextResidual` the
    /// output plus the context). Differentiable in the model's parameters.
    public func output(_ model: FluxTransformer, prediction: PredictionType, x: Tensor, t: Tensor, guidance: Tensor?,
                       adapters: AdapterInput? = nil) -> Tensor {
        let out = model(hiddenStates: Tensor.concat([x, context], axis: 1), encoderHiddenStates: text,
                        pooledProjections: pooled, timestep: t, guidance: guidance, imgIds: imgIds, txtIds: txtIds, adapters: adapters)
            .sliced(axis: 1, 0..<x.shape[1])
        guard prediction == .contextResidual else { return out }
        precondition(context.shape == out.shape, "a context-residual base needs target and context of one layout: target \(out.shape), context \(context.shape)")
        return out + context
    }

    /// The same as `output` with a LoRWeB query.
    public func output(_ model: FluxTransformer, prediction: PredictionType, x: Tensor, t: Tensor, guidance: Tensor?, query: Tensor?) -> Tensor {
        output(model, prediction: prediction, x: x, t: t, guidance: guidance, adapters: query.map(AdapterInput.query))
    }

    /// The flow's velocity at (x, t) for sampling, whatever the base predicts (no graph).
    public func velocity(_ model: FluxTransformer, prediction: PredictionType, x: Tensor, t: Float, guidance: Tensor?,
                         adapters: AdapterInput? = nil) -> Tensor {
        let out = output(model, prediction: prediction, x: x, t: Tensor.full([x.shape[0]], t), guidance: guidance, adapters: adapters)
        return FlowMatching.velocity(from: out, prediction: prediction, x: x, t: t)
    }

    /// The rectified-flow training loss of `model` on this batch at times `t` [B], from Gaussian
    /// `noise` of the targets' shape: the flow starts at `start`, the model is scored on what its
    /// `prediction` outputs, measured in `space`, bell-weighted when `weighted`; with `edgeWeight`
    /// > 0 (pixel space only), plus that times the same loss on the pictures' steps between
    /// neighbouring pixels (`FlowMatching.pixelSteps`), and with `seamWeight` > 0 (pixel space
    /// only) that times the same loss on the steps across token seams alone
    /// (`FlowMatching.seamSteps`); the terms reduced over the batch by `reduction`. Pretraining and
    /// LoRWeB training share it, so a base setting reaches both. Differentiable in the parameters.
    public func flowLoss(_ model: FluxTransformer, prediction: PredictionType, start: FlowStart, space: BaseEditorSettings.LossSpace,
                         codec: LatentCodec, t: [Float], noise: Tensor, weighted: Bool, edgeWeight: Float = 0, seamWeight: Float = 0,
                         reduction: FlowMatching.Reduction = .mean, adapters: AdapterInput? = nil) -> Tensor {
        precondition((edgeWeight == 0 && seamWeight == 0) || space == .pixels, "flowLoss: an edge or seam loss needs the loss in pixels")
        let x1 = flowStart(start, noise: noise)
        let out = output(model, prediction: prediction, x: FlowMatching.noised(x0: target, eps: x1, t: t),
                         t: Tensor(shape: [t.count], data: t), guidance: Tensor.ones([t.count]), adapters: adapters)
        let truth = FlowMatching.trainingTarget(prediction, x0: target, eps: x1)
        let (made, wanted) = (lossView(out, space: space, codec: codec), lossView(truth, space: space, codec: codec))
        func rows(_ m: Tensor, _ w: Tensor) -> Tensor { FlowMatching.rowErrors(prediction: m, target: w, t: t) }
        var terms = [(rows(made, wanted), Float(1))]
        if edgeWeight > 0 { terms.append((rows(FlowMatching.pixelSteps(made), FlowMatching.pixelSteps(wanted)), edgeWeight)) }
        let cell = codec.tokenPixels
        if seamWeight > 0, let m = FlowMatching.seamSteps(made, cell: cell), let w = FlowMatching.seamSteps(wanted, cell: cell) {
            terms.append((rows(m, w), seamWeight))
        }
        switch reduction {
        case .mean:
            return terms.dropFirst().reduce(FlowMatching.reduce(terms[0].0, t: t, weighted: weighted, as: .mean)) { total, term in
                total + FlowMatching.reduce(term.0, t: t, weighted: weighted, as: .mean) * term.1
            }
        case .log:
            // One error per grid, its added terms included, so that the log sees the grid's whole cost.
            let perRow = terms.dropFirst().reduce(terms[0].0) { total, term in total + term.0 * term.1 }
            return FlowMatching.reduce(perRow, t: t, weighted: weighted, as: .log)
        }
    }

    /// Target tokens [B, St, C] as a loss in `space` compares them: as they are, or as the pictures
    /// [B, 3, H, W] they decode to (linear part only, so differences are exact). Differentiable.
    public func lossView(_ tokens: Tensor, space: BaseEditorSettings.LossSpace, codec: LatentCodec) -> Tensor {
        switch space {
        case .latents: return tokens
        case .pixels: return codec.pixelDifference(FluxPacking.unpack(tokens, height: latentHeight, width: latentWidth))
        }
    }

    /// Decodes target tokens [B, St, C] back to images.
    public func images(from tokens: Tensor, codec: LatentCodec) throws -> [Image] {
        let pixels = codec.decode(FluxPacking.unpack(tokens, height: latentHeight, width: latentWidth)).clamped(min: -1, max: 1)
        let (b, h, w) = (pixels.shape[0], pixels.shape[2], pixels.shape[3])
        return try (0..<b).map { try Image(tensor: pixels.sliced(axis: 0, $0..<($0 + 1)).reshaped([3, h, w]), range: .signed) }
    }
}
