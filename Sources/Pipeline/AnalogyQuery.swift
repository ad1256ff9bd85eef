import Formats
import Models
import Tensor

// The LoRWeB query of one analogy, built as the release's inference builds it: the conditioning
// grid of (a, a', b), its quadrants cropped back out with the release's convention, each
// embedded by the frozen encoder, combined by the query mode.

public enum AnalogyQuery {
    /// Refuses an `a` the release's inference crops cannot cut: the conditioning grid is 2w x 2h
    /// and b's quadrant is cropped from row w down, which is empty (PIL raises) when w > 2h.
    /// Call before `make` with the image's path for the error.
    public static func check(a: Image, path: String) throws {
        guard a.width <= 2 * a.height else {
            throw FormatError(path, "image a is \(a.width)x\(a.height): the release's query crops need a width of at most twice the height")
        }
    }

    /// [1, qdim] for the triplet.
    public static func make(a: Image, aPrime: Image, b: Image, encoder: ImageEncoder, mode: QueryMode) -> Tensor {
        let grid = AnalogyGrid.conditioning(a: a, aPrime: aPrime, b: b)
        return make(crops: [AnalogyGrid.queryCrops(grid, convention: .inference)], encoder: encoder, mode: mode)
    }

    /// [B, qdim] for analogies already cut into their query crops (training cuts them with its
    /// own convention), embedded in one batch.
    public static func make(crops: [(a: Image, aPrime: Image, b: Image)], encoder: ImageEncoder, mode: QueryMode) -> Tensor {
        let e = encoder.embed(crops.flatMap { [$0.a, $0.aPrime, $0.b] })   // [3B, E]
        let rows = e.reshaped([crops.count, 3, encoder.embeddingWidth])
        func part(_ i: Int) -> Tensor { rows.sliced(axis: 1, i..<(i + 1)).reshaped([crops.count, encoder.embeddingWidth]) }
        return mode.query(a: part(0), aPrime: part(1), b: part(2))
    }
}
