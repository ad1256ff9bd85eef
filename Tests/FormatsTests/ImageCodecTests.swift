import Foundation
import TestSupport
import Testing
@testable import Formats

/// PNG/JPEG decoding against Pillow, encoding round trips, and the bad-input table.
@Suite struct ImageCodecTests {
    typealias F = ImageFixtures

    @Test(arguments: F.manifest.png.map(\.file))
    func pngDecodeMatchesPillowExactly(_ file: String) throws {
        let entry = F.manifest.png.first { $0.file == file }!
        let image = try Image.read(F.path(file))
        let expectedRGB = try F.NPY(entry.rgb).image
        #expect(image.rgb() == expectedRGB, "\(file) (Pillow mode \(entry.mode)) RGB differs from Pillow")
        if let rgba = entry.rgba {
            #expect(image.channels == 4, "\(file) has alpha")
            #expect(image == (try F.NPY(rgba).image), "\(file) RGBA differs from Pillow")
        } else {
            #expect(image.channels == 3)
        }
    }

    /// libjpeg-turbo 2.1.5 here and 3.2.0 in Pillow's wheel use the same islow IDCT and fancy
    /// upsampling; the decodes are expected identical, and are allowed at most 1 level apart.
    @Test(arguments: F.manifest.jpeg.map(\.file))
    func jpegDecodeMatchesPillow(_ file: String) throws {
        let entry = F.manifest.jpeg.first { $0.file == file }!
        let image = try Image.read(F.path(file))
        let difference = F.maxDifference(image, try F.NPY(entry.rgb).image)
        print("JPEG decode \(file): max |diff| vs Pillow = \(difference)")
        #expect(difference <= 1)
    }

    /// Our encoder at q95 makes the same quantised image as Pillow's `save(quality=95)`.
    @Test func jpegEncodeMatchesPillowEncoder() throws {
        let spec = F.manifest.jpeg_encode
        let source = try Image.read(F.path(spec.source))
        let ours = try Image.decode(try source.encoded(as: .jpeg, jpegQuality: spec.quality))
        let difference = F.maxDifference(ours, try F.NPY(spec.pillow).image)
        print("JPEG encode q\(spec.quality): max |diff| vs Pillow's encode+decode = \(difference)")
        #expect(difference <= 1)
    }

    @Test func pngRoundTripIsExact() throws {
        let folder = try scratchFolder("image-tests")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["resize_src_rgb_37x23.png", "resize_src_rgba_31x27.png"] {
            let image = try Image.read(F.path(name))
            let path = folder + "/copy.PNG"
            try image.write(to: path)
            #expect(try Image.read(path) == image)
        }
        // No temporary files left next to the output.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["copy.PNG"])
    }

    @Test func jpegRoundTripIsClose() throws {
        let folder = try scratchFolder("image-tests")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A smooth image survives q95 with small error; the bound is loose, the point is the plumbing.
        var smooth = Image(width: 48, height: 32, color: [0, 0, 0])
        for y in 0..<32 { for x in 0..<48 {
            let i = (y * 48 + x) * 3
            smooth.pixels[i] = UInt8(x * 5); smooth.pixels[i + 1] = UInt8(y * 7); smooth.pixels[i + 2] = 128
        } }
        let path = folder + "/smooth.jpeg"
        try smooth.write(to: path, jpegQuality: 95)
        let back = try Image.read(path)
        #expect(back.width == 48 && back.height == 32 && back.channels == 3)
        #expect(F.maxDifference(back, smooth) <= 8)
    }

    @Test func compositeOnWhiteMatchesPillowAlphaComposite() throws {
        let spec = F.manifest.composite
        let rgba = try Image.read(F.path(spec.source))
        #expect(rgba.rgb(background: (255, 255, 255)) == (try F.NPY(spec.expected).image))
    }

    @Test func tensorConversionsRoundTrip() throws {
        let image = try Image.read(F.path("resize_src_rgb_37x23.png"))
        let chw = image.tensor(range: .signed)
        #expect(chw.shape == [3, 23, 37])
        #expect(chw[1, 2, 3] == Float(image[3, 2][1]) / 255 * 2 - 1)
        #expect(try Image(tensor: chw, range: .signed) == image)
        let hwc = image.tensor(range: .unit, layout: .hwc)
        #expect(hwc.shape == [23, 37, 3])
        #expect(try Image(tensor: hwc, layout: .hwc) == image)
    }

    // MARK: - Bad input

    /// Each case: a file name, how to make it from valid bytes, and a phrase the error must contain.
    static let badInputs: [(name: String, problem: String)] = [
        ("corrupt-idat.png", "invalid PNG: IDAT"),
        ("bad-crc.png", "CRC error"),
        ("truncated.png", "truncated"),
        ("truncated.jpg", "Premature end of JPEG file"),
        ("text.png", "not a PNG or JPEG file"),
        ("empty.png", "empty file"),
        ("missing.png", "No such file or directory"),
        ("oversized.png", "exceeds the limit"),
        ("oversized.jpg", "exceeds the limit"),
        ("header-only.jpg", "JPEG"),
    ]

    @Test(arguments: badInputs.map(\.name))
    func badInputGivesFormatErrorNamingFileAndProblem(_ name: String) throws {
        let problem = Self.badInputs.first { $0.name == name }!.problem
        let folder = try scratchFolder("image-tests")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/" + name
        let png = try Data(contentsOf: URL(fileURLWithPath: F.path("png_rgb8.png")))
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: F.path("jpeg_q95.jpg")))
        switch name {
        case "corrupt-idat.png":
            var bytes = [UInt8](png)
            let idat = png.range(of: Data("IDAT".utf8))!.upperBound
            bytes[idat + 3] ^= 0x40                        // inside the compressed stream: zlib rejects it
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        case "bad-crc.png":
            var bytes = [UInt8](png)
            let ihdr = png.range(of: Data("IHDR".utf8))!.upperBound
            bytes[ihdr + 13] ^= 0x01                       // first CRC byte after the 13-byte IHDR payload
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        case "truncated.png": try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: path))
        case "truncated.jpg": try jpeg.prefix(jpeg.count / 2).write(to: URL(fileURLWithPath: path))
        case "header-only.jpg": try jpeg.prefix(20).write(to: URL(fileURLWithPath: path))
        case "text.png": try Data("just some text, not an image\n".utf8).write(to: URL(fileURLWithPath: path))
        case "empty.png": try Data().write(to: URL(fileURLWithPath: path))
        case "missing.png": break
        default: try FileManager.default.copyItem(atPath: F.path(name), toPath: path)
        }
        do {
            _ = try Image.read(path)
            Issue.record("\(name) was accepted")
        } catch let error as FormatError {
            #expect(error.path == path)
            #expect(error.description.contains(problem), "\(name): \(error)")
        }
    }

    @Test(arguments: ["no-such-folder/out.png", "a-file/out.png", "out.jpg", "out.gif"])
    func unwritableOutputGivesFormatErrorAndNoFile(_ relative: String) throws {
        let folder = try scratchFolder("image-tests")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/a-file"))
        let rgba = Image(width: 4, height: 3, color: [1, 2, 3, 4])   // JPEG refuses alpha
        let path = folder + "/" + relative
        #expect(throws: FormatError.self) { try rgba.write(to: path) }
        do { try rgba.write(to: path) } catch let error as FormatError {
            #expect(error.path == path)
            print("write \(relative): \(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["a-file"])
    }
}
