import Foundation
import Tensor

// CLIP image encoder with the semantics of transformers' CLIPVisionModelWithProjection
// (transformers 5.24.0: src/transformers/models/clip/modeling_clip.py; the parity fixtures,
// Tests/Fixtures/parity/versions.json, reproduce under that version). Parameter keys are
// transformers' state-dict keys (`vision_model.pre_layrnorm` keeps its upstream spelling).
//
// Legend: B batch, N = 1 + (image/patch)^2 positions, D hidden, P projection dim.

/// CLIPVisionConfig (+ projection_dim) with upstream names.
public struct CLIPVisionConfig: Codable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var projectionDim = 512
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 32
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Float = 1e-5

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", projectionDim = "projection_dim"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numChannels = "num_channels", imageSize = "image_size", patchSize = "patch_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPVisionConfig()
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? d.projectionDim
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        numChannels = try c.decodeIfPresent(Int.self, forKey: .numChannels) ?? d.numChannels
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? d.imageSize
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
    }

    public var positions: Int { (imageSize / patchSize) * (imageSize / patchSize) + 1 }

    /// openai/clip-vit-large-patch14 (vision tower), the encoder LoRWeB's release uses.
    public static var vitL14: CLIPVisionConfig {
        var c = CLIPVisionConfig()
        c.hiddenSize = 1024; c.intermediateSize = 4096; c.projectionDim = 768
        c.numHiddenLayers = 24; c.numAttentionHeads = 16; c.patchSize = 14
        return c
    }
}

/// CLIPEncoderLayer: pre-LN self-attention and MLP, each with a residual.
final class CLIPEncoderLayer {
    let heads: Int, activation: String
    let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    let layerNorm1: LayerNorm, layerNorm2: LayerNorm
    let fc1: Linear, fc2: Linear

    init(_ p: Parameters, _ c: CLIPVisionConfig) throws {
        heads = c.numAttentionHeads
        activation = c.hiddenAct
        let d = c.hiddenSize, a = p.scoped("self_attn")
        qProj = try Linear(a.scoped("q_proj"), d, d)
        kProj = try Linear(a.scoped("k_proj"), d, d)
        vProj = try Linear(a.scoped("v_proj"), d, d)
        outProj = try Linear(a.scoped("out_proj"), d, d)
        layerNorm1 = try LayerNorm(p.scoped("layer_norm1"), d, eps: c.layerNormEps)
        layerNorm2 = try LayerNorm(p.scoped("layer_norm2"), d, eps: c.layerNormEps)
        fc1 = try Linear(p.scoped("mlp.fc1"), d, c.intermediateSize)
        fc2 = try Linear(p.scoped("mlp.fc2"), c.intermediateSize, d)
    }

    func act(_ x: Tensor) -> Tensor {
        switch activation {
        case "quick_gelu": return x.quickGelu()
        case "gelu_pytorch_tanh", "gelu_new": return x.gelu(approximate: true)
        default: return x.gelu()
        }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = layerNorm1(x)
        let x = x + outProj(scaledDotProductAttention(qProj(h), kProj(h), vProj(h), heads: heads))
        return x + fc2(act(fc1(layerNorm2(x))))
    }

    /// The output at the class position alone, [B, 1, D], from every position's keys and values:
    /// all the pooled embedding reads of the last layer.
    func classPosition(_ x: Tensor) -> Tensor {
        let h = layerNorm1(x), x0 = x.sliced(axis: 1, 0..<1)
        let y = x0 + outProj(scaledDotProductAttention(qProj(h.sliced(axis: 1, 0..<1)), kProj(h), vProj(h), heads: heads))
        return y + fc2(act(fc1(layerNorm2(y))))
    }
}

public final class CLIPVision {
    public let config: CLIPVisionConfig
    let classEmbedding: Tensor     // [D]
    let patchEmbedding: Tensor     // [D, 3, p, p], conv without bias
    let positionEmbedding: Embedding
    let preLayerNorm: LayerNorm, postLayerNorm: LayerNorm
    let layers: [CLIPEncoderLayer]
    let visualProjection: Linear   // [P, D], no bias

    public init(_ p: Parameters, config c: CLIPVisionConfig) throws {
        let known = ["quick_gelu", "gelu", "gelu_pytorch_tanh", "gelu_new"]
        guard known.contains(c.hiddenAct) else { throw LoadError("CLIP hidden_act \(c.hiddenAct) is not supported (\(known))") }
        config = c
        let v = p.scoped("vision_model"), e = v.scoped("embeddings"), d = c.hiddenSize
        classEmbedding = try e("class_embedding", [d], .normal(std: 1))
        patchEmbedding = try e.scoped("patch_embedding")("weight", [d, c.numChannels, c.patchSize, c.patchSize], .normal(std: 0.02))
        positionEmbedding = try Embedding(e.scoped("position_embedding"), c.positions, d)
        preLayerNorm = try LayerNorm(v.scoped("pre_layrnorm"), d, eps: c.layerNormEps)
        layers = try (0..<c.numHiddenLayers).map { try CLIPEncoderLayer(v.scoped("encoder.layers").scoped($0), c) }
        postLayerNorm = try LayerNorm(v.scoped("post_layernorm"), d, eps: c.layerNormEps)
        visualProjection = try Linear(p.scoped("visual_projection"), d, c.projectionDim, bias: false)
    }

    /// pixel_values [B, 3, H, W] (CLIP-normalised) -> image_embeds [B, P] and last_hidden_state [B, N, D].
    public func callAsFunction(_ pixels: Tensor) -> (imageEmbeds: Tensor, lastHiddenState: Tensor) {
        var x = embeddings(pixels)
        for layer in layers { x = layer(x) }
        return (projected(x), x)
    }

    /// image_embeds [B, P] alone. The pooled output reads the class position only, so the last
    /// layer computes nothing else (its queries, output projection and MLP for one row instead
    /// of N: 4% of ViT-L/14's work).
    public func imageEmbeds(_ pixels: Tensor) -> Tensor {
        var x = embeddings(pixels)
        for layer in layers.dropLast() { x = layer(x) }
        return projected(layers.last.map { $0.classPosition(x) } ?? x)
    }

    /// Patch, class and position embeddings, pre-layer-normed: [B, N, D].
    func embeddings(_ pixels: Tensor) -> Tensor {
        let c = config, b = pixels.shape[0], d = c.hiddenSize
        let patches = pixels.patchEmbedding(weight: patchEmbedding, bias: nil)                // [B, N-1, D]
        let cls = classEmbedding.reshaped([1, 1, d]).expanded(to: [b, 1, d])
        return preLayerNorm(Tensor.concat([cls, patches], axis: 1) + positionEmbedding(Array(0..<c.positions)))
    }

    /// The class position of the last hidden state [B, N or 1, D], post-layer-normed and projected.
    func projected(_ x: Tensor) -> Tensor {
        visualProjection(postLayerNorm(x.sliced(axis: 1, 0..<1).reshaped([x.shape[0], config.hiddenSize])))
    }
}
