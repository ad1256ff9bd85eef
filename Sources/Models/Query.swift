import Tensor

// The query that selects a mixture of the basis: built once per analogy from the frozen image
// encoder's embeddings of a, a' and b (the release's `query_mode`), shared by every layer, each
// of which projects it with its own `att_lora_to_q`.

public enum QueryMode: String, Codable, CaseIterable {
    /// concat(E(a), E(a'), E(b)): the release's default; qdim = 3 x embedding width.
    case concatenated = "cat-aa'b"
    /// E(a') - E(a) + E(b); qdim = embedding width.
    case differencePlusB = "ca'-ca+cb"
    /// E(a') - E(a); qdim = embedding width.
    case difference = "ca'-ca"
    /// One embedding of the whole conditioning grid with its bottom-right quadrant zeroed: the
    /// paper's encoder-input ablation; qdim = embedding width.
    case grid = "caa'b"

    /// Whether the query embeds the grid as one image rather than a, a' and b apart.
    public var embedsGrid: Bool { self == .grid }

    /// The query width for encoder embeddings of width `embedding`.
    public func queryDim(embedding: Int) -> Int { self == .concatenated ? 3 * embedding : embedding }

    /// Builds queries [B, qdim] from embeddings [B, E] of a, a' and b (not for `.grid`).
    public func query(a: Tensor, aPrime: Tensor, b: Tensor) -> Tensor {
        precondition(a.shape == aPrime.shape && a.shape == b.shape && a.rank == 2,
                     "query: embeddings of a \(a.shape), a' \(aPrime.shape), b \(b.shape) must all be [B, E]")
        switch self {
        case .concatenated: return Tensor.concat([a, aPrime, b], axis: 1)
        case .differencePlusB: return aPrime - a + b
        case .difference: return aPrime - a
        case .grid: preconditionFailure("query: mode caa'b embeds the grid, not a, a' and b")
        }
    }
}
