import Foundation
import Tensor

// The text side of the editor. Flux-Kontext reads a prompt through T5 (token sequence) and
// CLIP-text (pooled vector). The small world uses a stand-in with the same outputs: a
// deterministic word tokenizer and frozen random embeddings. It carries no pretrained language
// knowledge; the base editor learns what its captions mean during pretraining.

/// Prompts -> token embeddings [B, T, joint_attention_dim] and pooled vectors [B, pooled_dim].
public protocol TextEncoder {
    func encode(_ prompts: [String]) -> (tokens: Tensor, pooled: Tensor)
}

/// Hashed word tokens into a frozen embedding table (a stand-in for T5 + CLIP-text, documented as such).
public struct HashedTextEncoder: TextEncoder {
    public let length: Int
    public let vocabulary: Int
    /// [vocabulary + 1, width]; row 0 is padding (zeros), so an empty prompt is all zeros.
    let table: Tensor
    let pooledProjection: Tensor   // [width, pooledWidth]

    public init(length: Int = 16, width: Int = 64, pooledWidth: Int = 64, vocabulary: Int = 4096, seed: UInt64 = 0x7e47) {
        self.length = length
        self.vocabulary = vocabulary
        var rng = RNG(seed: seed)
        let t = rng.normal([vocabulary + 1, width])
        t.data.update(repeating: 0, count: width)
        table = t
        pooledProjection = rng.normal([width, pooledWidth], std: 1 / Float(width).squareRoot())
    }

    /// Lower-cased alphanumeric words, each hashed (FNV-1a) to 1...vocabulary; at most `length`.
    public func tokenize(_ prompt: String) -> [Int] {
        let words = prompt.lowercased().split { !($0.isLetter || $0.isNumber) }
        return words.prefix(length).map { word in
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in word.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            return 1 + Int(h % UInt64(vocabulary))
        }
    }

    public func encode(_ prompts: [String]) -> (tokens: Tensor, pooled: Tensor) {
        let ids = prompts.flatMap { p in
            let t = tokenize(p)
            return t + [Int](repeating: 0, count: length - t.count)
        }
        let width = table.shape[1]
        let tokens = table.indexSelect(ids).reshaped([prompts.count, length, width])
        // Pooled: the mean over real tokens (zero for an empty prompt), then a fixed projection.
        let counts = prompts.map { Float(Swift.max(tokenize($0).count, 1)) }
        let mean = tokens.sum(axis: 1) / Tensor(shape: [prompts.count, 1], data: counts)
        return (tokens, mean.matmul(pooledProjection))
    }
}
