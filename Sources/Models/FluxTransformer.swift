import Foundation
import Tensor

// Flux.1 (Kontext) flow transformer with the semantics of diffusers' FluxTransformer2DModel
// (diffusers 0.42.1: src/diffusers/models/transformers/transformer_flux.py; the parity fixtures,
// Tests/Fixtures/parity/versions.json, reproduce under that version). Parameter keys are
// diffusers' state-dict keys, so a diffusers checkpoint loads by name.
//
// Legend: B batch, S image tokens (Kontext: target then context), T text tokens,
// C hidden = heads x headDim, H heads, D headDim.

// MARK: - Configuration

/// Constructor arguments of FluxTransformer2DModel (upstream names in `CodingKeys`).
public struct FluxConfig: Codable, Equatable {
    public var patchSize = 1
    public var inChannels = 64
    public var outChannels: Int? = nil
    public var numLayers = 19
    public var numSingleLayers = 38
    public var attentionHeadDim = 128
    public var numAttentionHeads = 24
    public var jointAttentionDim = 4096
    public var pooledProjectionDim = 768
    public var guidanceEmbeds = false
    public var axesDimsRope = [16, 56, 56]

    enum CodingKeys: String, CodingKey {
        case patchSize = "patch_size", inChannels = "in_channels", outChannels = "out_channels"
        case numLayers = "num_layers", numSingleLayers = "num_single_layers"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case jointAttentionDim = "joint_attention_dim", pooledProjectionDim = "pooled_projection_dim"
        case guidanceEmbeds = "guidance_embeds", axesDimsRope = "axes_dims_rope"
    }

    public init() {}

    /// Reads a config, taking upstream defaults for absent or null fields.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = FluxConfig()
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
        numSingleLayers = try c.decodeIfPresent(Int.self, forKey: .numSingleLayers) ?? d.numSingleLayers
        attentionHeadDim = try c.decodeIfPresent(Int.self, forKey: .attentionHeadDim) ?? d.attentionHeadDim
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        jointAttentionDim = try c.decodeIfPresent(Int.self, forKey: .jointAttentionDim) ?? d.jointAttentionDim
        pooledProjectionDim = try c.decodeIfPresent(Int.self, forKey: .pooledProjectionDim) ?? d.pooledProjectionDim
        guidanceEmbeds = try c.decodeIfPresent(Bool.self, forKey: .guidanceEmbeds) ?? d.guidanceEmbeds
        axesDimsRope = try c.decodeIfPresent([Int].self, forKey: .axesDimsRope) ?? d.axesDimsRope
    }

    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    public var outputChannels: Int { outChannels ?? inChannels }

    /// black-forest-labs/FLUX.1-Kontext-dev transformer/config.json.
    public static var flux1KontextDev: FluxConfig {
        var c = FluxConfig()
        c.guidanceEmbeds = true
        return c
    }

    /// The CPU model of lorweb's small world: 2 double + 4 single blocks, 4 heads x 64, 192 input
    /// channels (space-to-depth codec: 4x4 pixels x 3 colours, packed 2x2 into tokens).
    /// The hidden width (256) must exceed the token width (192): at t = 1 the input is pure noise
    /// and the velocity target contains it, so a narrower residual stream cannot carry it through
    /// (measured: 4 heads x 32 = 128 left a one-image fresh-noise loss of 0.52, 8 x 32 reached 0.043).
    /// Four 64-d heads rather than eight 32-d ones give RoPE 12 frequency pairs per grid axis
    /// instead of 6: on an 8x8 token grid a target token can then single out its context
    /// counterpart by 1.10 g^2 logits over its best neighbour instead of 0.63 g^2 (g the QK-norm
    /// gain), which is what copying through attention needs. Same compute.
    public static var small: FluxConfig {
        var c = FluxConfig()
        c.inChannels = 192
        c.numLayers = 2
        c.numSingleLayers = 4
        c.attentionHeadDim = 64
        c.numAttentionHeads = 4
        c.jointAttentionDim = 64
        c.pooledProjectionDim = 64
        c.guidanceEmbeds = true
        c.axesDimsRope = [16, 24, 24]
        return c
    }
}

// MARK: - Free functions

/// Sinusoidal embedding of (already x1000) timesteps, diffusers' `get_timestep_embedding` with
/// flip_sin_to_cos = true and downscale_freq_shift = 0: [cos(t f), sin(t f)], f_j = 10000^(-j/half).
func timestepEmbedding(_ t: Tensor, dim: Int = 256) -> Tensor {
    let half = dim / 2, b = t.count
    let out = Tensor(uninitialized: [b, dim])
    // Computed in Float32 like PyTorch: exponent, exp and the product all round in single precision.
    let freqs = (0..<half).map { Foundation.exp(-Float(Foundation.log(10000.0)) * Float($0) / Float(half)) }
    for i in 0..<b {
        for j in 0..<half {
            let arg = t.data[i] * freqs[j]
            out.data[i * dim + j] = Foundation.cos(arg)
            out.data[i * dim + half + j] = Foundation.sin(arg)
        }
    }
    return out
}

// MARK: - Embedders

/// diffusers TimestepEmbedding / PixArtAlphaTextProjection: linear_1, SiLU, linear_2.
final class MLPEmbedder {
    let linear1: Linear, linear2: Linear
    init(_ p: Parameters, _ inDim: Int, _ dim: Int) throws {
        linear1 = try Linear(p.scoped("linear_1"), inDim, dim)
        linear2 = try Linear(p.scoped("linear_2"), dim, dim)
    }
    func callAsFunction(_ x: Tensor) -> Tensor { linear2(linear1(x).silu()) }
}

/// CombinedTimestep(Guidance)TextProjEmbeddings: time (+ guidance) + pooled text projection.
final class TimeTextEmbedding {
    let timestepEmbedder: MLPEmbedder, guidanceEmbedder: MLPEmbedder?, textEmbedder: MLPEmbedder
    init(_ p: Parameters, _ c: FluxConfig) throws {
        timestepEmbedder = try MLPEmbedder(p.scoped("timestep_embedder"), 256, c.innerDim)
        guidanceEmbedder = c.guidanceEmbeds ? try MLPEmbedder(p.scoped("guidance_embedder"), 256, c.innerDim) : nil
        textEmbedder = try MLPEmbedder(p.scoped("text_embedder"), c.pooledProjectionDim, c.innerDim)
    }
    func callAsFunction(timestep: Tensor, guidance: Tensor?, pooled: Tensor) -> Tensor {
        var emb = timestepEmbedder(timestepEmbedding(timestep))
        if let guidanceEmbedder, let guidance { emb = emb + guidanceEmbedder(timestepEmbedding(guidance)) }
        return emb + textEmbedder(pooled)
    }
}

// MARK: - Attention

/// FluxAttention with the FluxAttnProcessor: q/k/v projections, RMS-normed q and k per head,
/// optionally a second (text) stream with its own projections, joint attention with RoPE.
final class FluxAttention {
    let heads: Int
    let toQ: Linear, toK: Linear, toV: Linear, normQ: RMSNorm, normK: RMSNorm
    let addQ: Linear?, addK: Linear?, addV: Linear?, normAddedQ: RMSNorm?, normAddedK: RMSNorm?
    let toOut: Linear?, toAddOut: Linear?

    init(_ p: Parameters, dim: Int, heads: Int, headDim: Int, dualStream: Bool) throws {
        self.heads = heads
        toQ = try Linear(p.scoped("to_q"), dim, dim)
        toK = try Linear(p.scoped("to_k"), dim, dim)
        toV = try Linear(p.scoped("to_v"), dim, dim)
        normQ = try RMSNorm(p.scoped("norm_q"), headDim)
        normK = try RMSNorm(p.scoped("norm_k"), headDim)
        if dualStream {
            addQ = try Linear(p.scoped("add_q_proj"), dim, dim)
            addK = try Linear(p.scoped("add_k_proj"), dim, dim)
            addV = try Linear(p.scoped("add_v_proj"), dim, dim)
            normAddedQ = try RMSNorm(p.scoped("norm_added_q"), headDim)
            normAddedK = try RMSNorm(p.scoped("norm_added_k"), headDim)
            toOut = try Linear(p.scoped("to_out").scoped(0), dim, dim)
            toAddOut = try Linear(p.scoped("to_add_out"), dim, dim)
        } else {
            (addQ, addK, addV, normAddedQ, normAddedK, toOut, toAddOut) = (nil, nil, nil, nil, nil, nil, nil)
        }
    }

    var linears: [(String, Linear)] {
        var l = [("to_q", toQ), ("to_k", toK), ("to_v", toV)]
        if let addQ, let addK, let addV, let toOut, let toAddOut {
            l += [("to_out.0", toOut), ("add_q_proj", addQ), ("add_k_proj", addK), ("add_v_proj", addV), ("to_add_out", toAddOut)]
        }
        return l
    }

    /// RMS norm of each head's slice: [B, L, H*D] viewed as [B, L, H, D].
    func headNorm(_ norm: RMSNorm, _ x: Tensor) -> Tensor {
        let s = x.shape
        return norm(x.reshaped([s[0], s[1], heads, -1])).reshaped(s)
    }

    /// Single stream: attention over `x` [B, L, C] (text already prepended). Dual stream: image
    /// `x` [B, S, C] and text `context` [B, T, C], text first in the joint sequence; returns
    /// (image, text) outputs after their output projections.
    func callAsFunction(_ x: Tensor, context: Tensor?, rope: (cos: Tensor, sin: Tensor), adapters input: AdapterInput?) -> (Tensor, Tensor?) {
        var q = headNorm(normQ, toQ(x, adapters: input))
        var k = headNorm(normK, toK(x, adapters: input))
        var v = toV(x, adapters: input)
        var textLength = 0
        if let context, let addQ, let addK, let addV, let normAddedQ, let normAddedK {
            textLength = context.shape[1]
            q = Tensor.concat([headNorm(normAddedQ, addQ(context, adapters: input)), q], axis: 1)   // [B, T+S, C]
            k = Tensor.concat([headNorm(normAddedK, addK(context, adapters: input)), k], axis: 1)
            v = Tensor.concat([addV(context, adapters: input), v], axis: 1)
        }
        q = q.applyingRoPE(cos: rope.cos, sin: rope.sin, heads: heads)
        k = k.applyingRoPE(cos: rope.cos, sin: rope.sin, heads: heads)
        let out = scaledDotProductAttention(q, k, v, heads: heads)
        guard let toOut, let toAddOut, context != nil else { return (out, nil) }
        let parts = out.split([textLength, out.shape[1] - textLength], axis: 1)
        return (toOut(parts[1], adapters: input), toAddOut(parts[0], adapters: input))
    }
}

/// FeedForward(dim, activation "gelu-approximate"): net.0.proj (dim -> 4 dim), tanh-GELU, net.2.
final class FeedForward {
    let proj: Linear, out: Linear
    init(_ p: Parameters, _ dim: Int) throws {
        proj = try Linear(p.scoped("net.0.proj"), dim, 4 * dim)
        out = try Linear(p.scoped("net.2"), 4 * dim, dim)
    }
    func callAsFunction(_ x: Tensor, adapters input: AdapterInput?) -> Tensor {
        out(proj(x, adapters: input).gelu(approximate: true), adapters: input)
    }
}

// MARK: - Blocks

/// FluxTransformerBlock: two streams (image, text), each with AdaLayerNormZero modulation,
/// joint attention and its own MLP.
final class FluxDoubleBlock {
    let norm1: Linear, norm1Context: Linear   // AdaLayerNormZero.linear: C -> 6C
    let attn: FluxAttention
    let ff: FeedForward, ffContext: FeedForward

    init(_ p: Parameters, _ c: FluxConfig) throws {
        let dim = c.innerDim
        norm1 = try Linear(p.scoped("norm1.linear"), dim, 6 * dim)
        norm1Context = try Linear(p.scoped("norm1_context.linear"), dim, 6 * dim)
        attn = try FluxAttention(p.scoped("attn"), dim: dim, heads: c.numAttentionHeads, headDim: c.attentionHeadDim, dualStream: true)
        ff = try FeedForward(p.scoped("ff"), dim)
        ffContext = try FeedForward(p.scoped("ff_context"), dim)
    }

    /// Adaptable layers in the release's order, keyed relative to the block.
    var linears: [(String, Linear)] {
        attn.linears.map { ("attn." + $0.0, $0.1) } + [
            ("ff.net.0.proj", ff.proj), ("ff.net.2", ff.out), ("ff_context.net.0.proj", ffContext.proj),
            ("ff_context.net.2", ffContext.out), ("norm1.linear", norm1), ("norm1_context.linear", norm1Context),
        ]
    }

    func callAsFunction(_ x: Tensor, context: Tensor, temb: Tensor, rope: (cos: Tensor, sin: Tensor), adapters input: AdapterInput?) -> (Tensor, Tensor) {
        let m = norm1(temb.silu(), adapters: input).chunked(6, axis: 1)          // shift, scale, gate (msa); shift, scale, gate (mlp)
        let mc = norm1Context(temb.silu(), adapters: input).chunked(6, axis: 1)
        // AdaLN: x * (1 + scale) + shift after a plain layer norm, branches gated, per sample.
        let nx = x.layerNormModulated(shift: m[0], scale: m[1])
        let nc = context.layerNormModulated(shift: mc[0], scale: mc[1])
        let (attnX, attnC) = attn(nx, context: nc, rope: rope, adapters: input)

        var x = x.addingGated(m[2], attnX)
        x = x.addingGated(m[5], ff(x.layerNormModulated(shift: m[3], scale: m[4]), adapters: input))
        var c = context.addingGated(mc[2], attnC!)
        c = c.addingGated(mc[5], ffContext(c.layerNormModulated(shift: mc[3], scale: mc[4]), adapters: input))
        return (x, c)
    }
}

/// FluxSingleTransformerBlock: one stream over [text, image]; attention and MLP in parallel,
/// concatenated and projected by proj_out.
final class FluxSingleBlock {
    let norm: Linear   // AdaLayerNormZeroSingle.linear: C -> 3C
    let attn: FluxAttention
    let projMLP: Linear, projOut: Linear

    init(_ p: Parameters, _ c: FluxConfig) throws {
        let dim = c.innerDim
        norm = try Linear(p.scoped("norm.linear"), dim, 3 * dim)
        attn = try FluxAttention(p.scoped("attn"), dim: dim, heads: c.numAttentionHeads, headDim: c.attentionHeadDim, dualStream: false)
        projMLP = try Linear(p.scoped("proj_mlp"), dim, 4 * dim)
        projOut = try Linear(p.scoped("proj_out"), 5 * dim, dim)
    }

    var linears: [(String, Linear)] {
        attn.linears.map { ("attn." + $0.0, $0.1) } + [("proj_mlp", projMLP), ("proj_out", projOut), ("norm.linear", norm)]
    }

    func callAsFunction(_ x: Tensor, temb: Tensor, rope: (cos: Tensor, sin: Tensor), adapters input: AdapterInput?) -> Tensor {
        let m = norm(temb.silu(), adapters: input).chunked(3, axis: 1)            // shift, scale, gate
        let nx = x.layerNormModulated(shift: m[0], scale: m[1])
        let mlp = projMLP(nx, adapters: input).gelu(approximate: true)
        let (attnOut, _) = attn(nx, context: nil, rope: rope, adapters: input)
        return x.addingGated(m[2], projOut(Tensor.concat([attnOut, mlp], axis: 2), adapters: input))
    }
}

// MARK: - Model

public final class FluxTransformer {
    public let config: FluxConfig
    let xEmbedder: Linear, contextEmbedder: Linear
    let timeTextEmbed: TimeTextEmbedding
    let doubleBlocks: [FluxDoubleBlock], singleBlocks: [FluxSingleBlock]
    let normOut: Linear   // AdaLayerNormContinuous.linear: C -> 2C (scale, shift)
    let projOut: Linear

    public init(_ p: Parameters, config c: FluxConfig) throws {
        config = c
        precondition(c.patchSize == 1, "only patch_size 1 is supported (Flux packs 2x2 latents into tokens itself)")
        precondition(c.axesDimsRope.reduce(0, +) == c.attentionHeadDim, "axes_dims_rope \(c.axesDimsRope) must sum to attention_head_dim \(c.attentionHeadDim)")
        xEmbedder = try Linear(p.scoped("x_embedder"), c.inChannels, c.innerDim)
        contextEmbedder = try Linear(p.scoped("context_embedder"), c.jointAttentionDim, c.innerDim)
        timeTextEmbed = try TimeTextEmbedding(p.scoped("time_text_embed"), c)
        doubleBlocks = try (0..<c.numLayers).map { try FluxDoubleBlock(p.scoped("transformer_blocks").scoped($0), c) }
        singleBlocks = try (0..<c.numSingleLayers).map { try FluxSingleBlock(p.scoped("single_transformer_blocks").scoped($0), c) }
        normOut = try Linear(p.scoped("norm_out.linear"), c.innerDim, 2 * c.innerDim)
        projOut = try Linear(p.scoped("proj_out"), c.innerDim, c.patchSize * c.patchSize * c.outputChannels)
    }

    /// Every Linear LoRWeB adapts (all 14 of a double block, all 6 of a single block; nothing
    /// outside the blocks), with its full diffusers key, in block order.
    public var adaptableLinears: [(key: String, layer: Linear)] {
        doubleBlocks.enumerated().flatMap { i, b in b.linears.map { ("transformer_blocks.\(i).\($0.0)", $0.1) } }
            + singleBlocks.enumerated().flatMap { i, b in b.linears.map { ("single_transformer_blocks.\(i).\($0.0)", $0.1) } }
    }

    /// Velocity for the image tokens.
    /// - Parameters:
    ///   - hiddenStates: [B, S, C_in] image tokens (Kontext: target tokens, then context tokens)
    ///   - encoderHiddenStates: [B, T, joint_attention_dim] text tokens
    ///   - pooledProjections: [B, pooled_projection_dim]
    ///   - timestep: [B] in [0, 1]; guidance: [B] raw scale (both are multiplied by 1000 here, as diffusers does)
    ///   - imgIds: [S, 3], txtIds: [T, 3] RoPE positions
    ///   - query: [B, qdim] the LoRWeB query, or nil to run the base model alone
    /// - Returns: [B, S, C_out]
    public func callAsFunction(hiddenStates: Tensor, encoderHiddenStates: Tensor, pooledProjections: Tensor,
                               timestep: Tensor, guidance: Tensor?, imgIds: Tensor, txtIds: Tensor,
                               query: Tensor? = nil) -> Tensor
    {
        self(hiddenStates: hiddenStates, encoderHiddenStates: encoderHiddenStates, pooledProjections: pooledProjections,
             timestep: timestep, guidance: guidance, imgIds: imgIds, txtIds: txtIds, adapters: query.map(AdapterInput.query))
    }

    /// The same with the adapters mixed by a query or by given coefficients (nil: base model alone).
    public func callAsFunction(hiddenStates: Tensor, encoderHiddenStates: Tensor, pooledProjections: Tensor,
                               timestep: Tensor, guidance: Tensor?, imgIds: Tensor, txtIds: Tensor,
                               adapters input: AdapterInput?) -> Tensor
    {
        let c = config, textLength = encoderHiddenStates.shape[1]
        let temb = timeTextEmbed(timestep: timestep * 1000, guidance: guidance.map { $0 * 1000 }, pooled: pooledProjections)
        let rope = RoPE.frequencies(ids: Tensor.concat([txtIds, imgIds], axis: 0), axesDim: c.axesDimsRope)

        var x = xEmbedder(hiddenStates)                 // [B, S, C]
        var ctx = contextEmbedder(encoderHiddenStates)   // [B, T, C]
        for block in doubleBlocks { (x, ctx) = block(x, context: ctx, temb: temb, rope: rope, adapters: input) }
        var joint = Tensor.concat([ctx, x], axis: 1)     // [B, T+S, C]
        for block in singleBlocks { joint = block(joint, temb: temb, rope: rope, adapters: input) }
        x = joint.sliced(axis: 1, textLength..<joint.shape[1])

        let m = normOut(temb.silu()).chunked(2, axis: 1)   // AdaLayerNormContinuous: scale first, then shift
        return projOut(x.layerNormModulated(shift: m[1], scale: m[0]))
    }
}
