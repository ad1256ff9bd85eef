import Foundation
@testable import Formats

/// Access to Tests/Fixtures/images (made by tools/fixtures/make_image_fixtures.py), located from this
/// source file so it works under `swift test` without resource bundles.
enum ImageFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/images")

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    struct Manifest: Decodable {
        struct PNG: Decodable { let file: String; let rgb: String; let rgba: String?; let mode: String }
        struct JPEG: Decodable { let file: String; let rgb: String }
        struct JPEGEncode: Decodable { let source: String; let quality: Int; let pillow: String }
        struct Resize: Decodable { let source: String; let filter: String; let width: Int; let height: Int; let expected: String }
        struct Composite: Decodable { let source: String; let expected: String }
        struct CLIP: Decodable { let source: String; let size: Int; let expected: String }
        let png: [PNG]
        let jpeg: [JPEG]
        let jpeg_encode: JPEGEncode
        let resize: [Resize]
        let composite: Composite
        let clip: [CLIP]
    }

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    /// A C-order .npy array (numpy format 1.0): its shape and raw little-endian payload.
    /// Only what the fixtures use: '|u1' and '<f4'.
    struct NPY {
        let descr: String
        let shape: [Int]
        let payload: Data

        init(_ name: String) throws {
            let data = try Data(contentsOf: ImageFixtures.folder.appendingPathComponent(name))
            let headerLength = Int(data[8]) | Int(data[9]) << 8
            let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
            func field(_ key: String) -> String {
                let start = header.range(of: "'\(key)': ")!.upperBound
                return String(header[start...])
            }
            let descrField = field("descr").dropFirst()
            descr = String(descrField.prefix { $0 != "'" })
            let shapeField = field("shape").dropFirst().prefix { $0 != ")" }
            shape = shapeField.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            payload = data.subdata(in: (10 + headerLength)..<data.count)
        }

        var bytes: [UInt8] { precondition(descr == "|u1"); return [UInt8](payload) }

        var floats: [Float] {
            precondition(descr == "<f4")
            return payload.withUnsafeBytes { raw in (0..<(payload.count / 4)).map { raw.load(fromByteOffset: $0 * 4, as: Float.self) } }
        }

        /// An H x W x C uint8 array as an Image.
        var image: Image { Image(width: shape[1], height: shape[0], channels: shape[2], pixels: bytes) }
    }

    /// Largest absolute difference between two images of the same geometry.
    static func maxDifference(_ a: Image, _ b: Image) -> Int {
        precondition(a.width == b.width && a.height == b.height && a.channels == b.channels,
                     "geometry \(a.width)x\(a.height)x\(a.channels) vs \(b.width)x\(b.height)x\(b.channels)")
        return zip(a.pixels, b.pixels).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
    }

    /// A fresh empty folder for output files.
    static func scratchFolder() -> String {
        let path = NSTemporaryDirectory() + "lorweb-image-tests-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
