import Foundation
import Formats
import Models
import Tensor

// The frozen image encoder E whose embeddings of a, a', b form LoRWeB's query. The release uses
// CLIP ViT-L/14 (224 px, 768-d image_embeds); the small world pretrains a CLIPVision of the same
// architecture at small width on its own images (`lorweb pretrain-encoder`) and freezes it.

extension CLIPVisionConfig {
    /// The small world's encoder: 32 px images in 4 x 4 patches (64 patches + class token),
    /// 4 layers of width 64, 64-d embeddings.
    public static var smallWorld: CLIPVisionConfig {
        var c = CLIPVisionConfig()
        c.hiddenSize = 64; c.intermediateSize = 256; c.projectionDim = 64
        c.numHiddenLayers = 4; c.numAttentionHeads = 4; c.imageSize = 32; c.patchSize = 4
        return c
    }
}

/// A CLIPVision model with the preprocessing its checkpoint expects, and a cache of embeddings
/// per image content (training looks at the same images many times).
public final class ImageEncoder {
    public let model: CLIPVision
    public let preprocess: CLIPPreprocessor
    private var cache: [Data: [Float]] = [:]

    public init(model: CLIPVision) {
        self.model = model
        preprocess = CLIPPreprocessor(size: model.config.imageSize)
    }

    public var embeddingWidth: Int { model.config.projectionDim }

    /// image_embeds [N, E] of `images`, computed without gradients, cached by pixel content.
    public func embed(_ images: [Image]) -> Tensor {
        let keys = images.map { Data($0.pixels) + withUnsafeBytes(of: ($0.width, $0.height)) { Data($0) } }
        var pending = Set<Data>(), missing: [Int] = []   // first occurrence of each uncached image, in order
        for (i, k) in keys.enumerated() where cache[k] == nil && pending.insert(k).inserted { missing.append(i) }
        if !missing.isEmpty {
            let embeds = withNoGrad { model.imageEmbeds(preprocess.batch(missing.map { images[$0] })) }
            let e = embeddingWidth
            for (row, i) in missing.enumerated() { cache[keys[i]] = Array(UnsafeBufferPointer(start: embeds.data + row * e, count: e)) }
        }
        return Tensor(shape: [images.count, embeddingWidth], data: keys.flatMap { cache[$0]! })
    }
}
