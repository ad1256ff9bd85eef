import Testing
import Formats
@testable import Pipeline
import TestSupport

/// The 2x2 grids against the release's construction (restated in tools/fixtures/make_image_fixtures.py)
/// and against hand-checked layouts.
@Suite struct AnalogyGridTests {
    typealias F = ImageFixtures

    static func solid(_ w: Int, _ h: Int, _ value: UInt8) -> Image { Image(width: w, height: h, color: [value, value, value]) }

    @Test func conditioningLayoutPutsBInBothBottomQuadrants() {
        let grid = AnalogyGrid.conditioning(a: Self.solid(6, 4, 10), aPrime: Self.solid(6, 4, 20), b: Self.solid(6, 4, 30))
        #expect(grid.width == 12 && grid.height == 8)
        #expect(grid[0, 0] == [10, 10, 10] && grid[5, 3] == [10, 10, 10])
        #expect(grid[6, 0] == [20, 20, 20] && grid[11, 3] == [20, 20, 20])
        #expect(grid[0, 4] == [30, 30, 30] && grid[5, 7] == [30, 30, 30])
        #expect(grid[6, 4] == [30, 30, 30] && grid[11, 7] == [30, 30, 30])
    }

    @Test func conditioningMatchesRelease() throws {
        let a = try Image.read(F.path("grid_a.png")), ap = try Image.read(F.path("grid_ap.png"))
        let b = try Image.read(F.path("grid_b.png"))
        #expect(AnalogyGrid.conditioning(a: a, aPrime: ap, b: b) == (try F.NPY("grid_conditioning.npy").image))
        let capped = AnalogyGrid.conditioning(a: a, aPrime: ap, b: b, maxSize: 60)
        #expect(capped == (try F.NPY("grid_conditioning_max60.npy").image))
    }

    @Test func trainingGridsMatchRelease() throws {
        let strip = try Image.read(F.path("grid_strip.png")), bp = try Image.read(F.path("grid_bp.png"))
        let full = AnalogyGrid.training(strip: strip, bPrime: bp)
        #expect(full.target == (try F.NPY("grid_training_target.npy").image))
        #expect(AnalogyGrid.bottomRight(full.target) == bp)
        let fitted = AnalogyGrid.training(strip: strip, bPrime: bp, bucket: (64, 40))
        #expect(fitted.target == (try F.NPY("grid_training_target_bucket.npy").image))
        #expect(fitted.conditioning == (try F.NPY("grid_training_conditioning_bucket.npy").image))
    }

    @Test func trainingLayoutAndMask() {
        // Strip of three solid thirds; b' solid 40. Sizes already match, so no resampling blur.
        var strip = Self.solid(12, 3, 10)
        strip.paste(Self.solid(4, 3, 20), x: 4, y: 0)
        strip.paste(Self.solid(4, 3, 30), x: 8, y: 0)
        let (target, conditioning) = AnalogyGrid.training(strip: strip, bPrime: Self.solid(4, 3, 40))
        #expect(target[0, 0] == [10, 10, 10] && target[4, 0] == [20, 20, 20])
        #expect(target[0, 3] == [30, 30, 30] && target[7, 5] == [40, 40, 40])
        #expect(conditioning[7, 5] == [30, 30, 30] && conditioning[4, 0] == [20, 20, 20])
        #expect(AnalogyGrid.bottomRight(target) == Self.solid(4, 3, 40))
    }

    @Test func queryCropsMatchReleaseConventions() throws {
        let grid = try F.NPY("grid_conditioning.npy").image     // 74 x 46: not square
        let inference = AnalogyGrid.queryCrops(grid, convention: .inference)
        #expect(inference.a == (try F.NPY("grid_query_inference_a.npy").image))
        #expect(inference.aPrime == (try F.NPY("grid_query_inference_ap.npy").image))
        #expect(inference.b == (try F.NPY("grid_query_inference_b.npy").image))
        let training = AnalogyGrid.queryCrops(grid, convention: .training)
        #expect(training.a == (try F.NPY("grid_query_training_a.npy").image))
        #expect(training.aPrime == (try F.NPY("grid_query_training_ap.npy").image))
        #expect(training.b == (try F.NPY("grid_query_training_b.npy").image))
    }

    @Test func queryCropsAreQuadrantsForSquareGrids() {
        let grid = AnalogyGrid.conditioning(a: Self.solid(5, 5, 1), aPrime: Self.solid(5, 5, 2), b: Self.solid(5, 5, 3))
        for convention in [AnalogyGrid.QueryConvention.inference, .training] {
            let q = AnalogyGrid.queryCrops(grid, convention: convention)
            #expect(q.a == Self.solid(5, 5, 1) && q.aPrime == Self.solid(5, 5, 2) && q.b == Self.solid(5, 5, 3))
        }
    }

    @Test func gridQueryImageZeroesOnlyTheBottomRight() {
        let grid = AnalogyGrid.conditioning(a: Self.solid(5, 3, 1), aPrime: Self.solid(5, 3, 2), b: Self.solid(5, 3, 3))
        let masked = AnalogyGrid.withoutBottomRight(grid)
        #expect(masked.width == 10 && masked.height == 6)
        #expect(masked[0, 0] == [1, 1, 1] && masked[9, 0] == [2, 2, 2] && masked[4, 5] == [3, 3, 3])
        #expect(masked[5, 3] == [0, 0, 0] && masked[9, 5] == [0, 0, 0])
        #expect(AnalogyGrid.bottomRight(masked) == Self.solid(5, 3, 0))
    }
}
