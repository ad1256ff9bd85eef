import Foundation
import Formats
import TestSupport

/// Access to Tests/Fixtures/images (made by tools/fixtures/make_image_fixtures.py), located from this
/// source file so it works under `swift test` without resource bundles.
public enum ImageFixtures {
    public static let folder = Fixtures.root.appendingPathComponent("images")

    public static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    public struct Manifest: Decodable {
        public struct PNG: Decodable { public let file: String; public let rgb: String; public let rgba: String?; public let mode: String }
        public struct JPEG: Decodable { public let file: String; public let rgb: String }
        public struct JPEGEncode: Decodable { public let source: String; public let quality: Int; public let pillow: String }
        public struct Resize: Decodable { public let source: String; public let filter: String; public let width: Int; public let height: Int; public let expected: String }
        public struct Composite: Decodable { public let source: String; public let expected: String }
        public struct CLIP: Decodable { public let source: String; public let size: Int; public let expected: String }
        public let png: [PNG]
        public let jpeg: [JPEG]
        public let jpeg_encode: JPEGEncode
        public let resize: [Resize]
        public let composite: Composite
        public let clip: [CLIP]
    }

    public static let manifest: Manifest = {
        let data = try! Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    /// A C-order .npy array (numpy format 1.0): its shape and raw little-endian payload.
    /// Only what the fixtures use: '|u1' and '<f4'.
    public struct NPY {
        public let descr: String
        public let shape: [Int]
        public let payload: Data

        public init(_ name: String) throws {
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

        public var bytes: [UInt8] { precondition(descr == "|u1"); return [UInt8](payload) }

        public var floats: [Float] {
            precondition(descr == "<f4")
            return payload.withUnsafeBytes { raw in (0..<(payload.count / 4)).map { raw.load(fromByteOffset: $0 * 4, as: Float.self) } }
        }

        /// An H x W x C uint8 array as an Image.
        public var image: Image { Image(width: shape[1], height: shape[0], channels: shape[2], pixels: bytes) }
    }

    /// Largest absolute difference between two images of the same geometry.
    public static func maxDifference(_ a: Image, _ b: Image) -> Int {
        precondition(a.width == b.width && a.height == b.height && a.channels == b.channels,
                     "geometry \(a.width)x\(a.height)x\(a.channels) vs \(b.width)x\(b.height)x\(b.channels)")
        return zip(a.pixels, b.pixels).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
    }
}
