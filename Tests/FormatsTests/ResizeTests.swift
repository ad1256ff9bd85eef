import Foundation
import TestSupport
import Testing
@testable import Formats

/// Pillow `Image.resize` parity and crops.
@Suite struct ResizeTests {
    typealias F = ImageFixtures

    /// Every case must be within 1 level of Pillow; the implementation mirrors Pillow's fixed-point
    /// arithmetic, so the expected (and observed) difference is 0.
    @Test(arguments: ResampleFilter.allCases)
    func resizeMatchesPillow(_ filter: ResampleFilter) throws {
        var worst = 0, cases = 0
        for spec in F.manifest.resize where spec.filter == filter.rawValue {
            let source = try Image.read(F.path(spec.source))
            let ours = source.resized(width: spec.width, height: spec.height, filter: filter)
            let difference = F.maxDifference(ours, try F.NPY(spec.expected).image)
            #expect(difference <= 1, "\(spec.source) -> \(spec.width)x\(spec.height) \(filter): max diff \(difference)")
            worst = max(worst, difference)
            cases += 1
        }
        print("resize \(filter): \(cases) cases, max |diff| vs Pillow = \(worst)")
        #expect(cases >= 20)
    }

    @Test func sameSizeResizeIsIdentity() throws {
        let image = try Image.read(F.path("resize_src_rgba_31x27.png"))
        #expect(image.resized(width: 31, height: 27) == image)
    }

    @Test func cropFollowsPillowIncludingOutOfBounds() {
        var image = Image(width: 4, height: 3, color: [0, 0, 0])
        for i in 0..<12 { image.pixels[3 * i] = UInt8(i) }
        let inside = image.cropped(x: 1, y: 1, width: 2, height: 2)
        #expect(inside.pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element) == [5, 6, 9, 10])
        let outside = image.cropped(x: 3, y: -1, width: 2, height: 2)
        // Only (3, 0) lies inside: it lands at (0, 1) of the crop; the rest is zero.
        #expect(outside[0, 1] == [3, 0, 0])
        #expect(outside[0, 0] == [0, 0, 0] && outside[1, 1] == [0, 0, 0])
    }

    @Test func centerCropRoundsDownLikeTransformers() {
        var image = Image(width: 7, height: 4, color: [0, 0, 0])
        for x in 0..<7 { image.pixels[3 * x] = UInt8(x) }
        // (7 - 4) / 2 = 1.5 -> left 1 (torchvision would round to 2).
        #expect(image.centerCropped(width: 4, height: 4)[0, 0] == [1, 0, 0])
    }
}

/// transformers `CLIPImageProcessor` parity.
@Suite struct CLIPPreprocessingTests {
    typealias F = ImageFixtures

    @Test(arguments: F.manifest.clip.map { "\($0.source)@\($0.size)" })
    func clipPixelValuesMatchTransformers(_ key: String) throws {
        let spec = F.manifest.clip.first { "\($0.source)@\($0.size)" == key }!
        let image = try Image.read(F.path(spec.source))
        let values = CLIPPreprocessor(size: spec.size)(image)
        let expected = try F.NPY(spec.expected)
        #expect(values.shape == expected.shape)
        let difference = zip(values.toArray(), expected.floats).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        print("CLIP \(key): max |diff| = \(difference)")
        #expect(difference <= 1e-6)
    }

    @Test func shorterSideSizing() {
        let clip = CLIPPreprocessor()
        #expect(clip.resizedSize(width: 301, height: 227) == (297, 224))   // int(224 * 301 / 227)
        #expect(clip.resizedSize(width: 150, height: 410) == (224, 612))
        #expect(clip.resizedSize(width: 50, height: 50) == (224, 224))
    }

    @Test func batchStacksImages() throws {
        let a = try Image.read(F.path("clip_src_small.png"))
        let b = try Image.read(F.path("clip_src_wide.png"))
        let clip = CLIPPreprocessor(size: 32)
        let batch = clip.batch([a, b])
        #expect(batch.shape == [2, 3, 32, 32])
        #expect(Array(batch.toArray()[(3 * 32 * 32)...]) == clip(b).toArray())
    }
}
