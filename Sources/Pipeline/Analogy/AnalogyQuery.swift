import Formats
import Models
import Tensor

// The LoRWeB query of one analogy, built as the release builds it: from the conditioning grid of
// (a, a', b), either its quadrants cropped back out with the release's convention and embedded
// one by one by the frozen encoder, then combined by the query mode, or (mode caa'b) the grid
// itself with the bottom-right quadrant zeroed, embedded as one image.

public enum AnalogyQuery {
    /// Refuses an `a` the release's inference crops cannot cut: the conditioning grid is 2w x 2h
    /// and b's quadrant is cropped from row w down, which is empty (PIL raises) when w > 2h.
    /// Call before `make` with the image's path for the error.
    public static func check(a: Image, path: String) throws {
        guard a.width <= 2 * a.height else {
            throw FormatError(path, "image a is \(a.width)x\(a.height): the release's query crops need a width of at most twice the height")
        }
    }

    /// Reads a triplet's images, refusing an `a` the query crops cannot cut (see `check`).
    public static func read(a: String, aPrime: String, b: String) throws -> (a: Image, aPrime: Image, b: Image) {
        let first = try Image.read(a)
        try check(a: first, path: a)
        return (first, try Image.read(aPrime), try Image.read(b))
    }

    /// [1, qdim] for the triplet.
    public static func make(a: Image, aPrime: Image, b: Image, encoder: ImageEncoder, mode: QueryMode) -> Tensor {
        make(grids: [AnalogyGrid.conditioning(a: a, aPrime: aPrime, b: b)], convention: .inference, encoder: encoder, mode: mode)
    }

    /// [B, qdim] for conditioning grids (bottom-right = bottom-left), embedded in one batch;
    /// `convention` says how the quadrants are cut (inference and training differ).
    public static func make(grids: [Image], convention: AnalogyGrid.QueryConvention, encoder: ImageEncoder, mode: QueryMode) -> Tensor {
        if mode.embedsGrid { return encoder.embed(grids.map(AnalogyGrid.withoutBottomRight)) }
        let crops = grids.map { AnalogyGrid.queryCrops($0, convention: convention) }
        let e = encoder.embed(crops.flatMap { [$0.a, $0.aPrime, $0.b] })   // [3B, E]
        let rows = e.reshaped([crops.count, 3, encoder.embeddingWidth])
        func part(_ i: Int) -> Tensor { rows.sliced(axis: 1, i..<(i + 1)).reshaped([crops.count, encoder.embeddingWidth]) }
        return mode.query(a: part(0), aPrime: part(1), b: part(2))
    }
}
