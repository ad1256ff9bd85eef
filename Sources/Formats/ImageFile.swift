import CImageIO
import Foundation

/// Encoded image formats lorweb reads and writes.
public enum ImageFormat: String, Sendable {
    case png, jpeg

    /// The format whose signature starts `bytes`, if any: files are recognised by content,
    /// never by name, so a misnamed file still reads and a text file named `.png` is refused.
    public static func detect(_ bytes: some Collection<UInt8>) -> ImageFormat? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// The format a file name asks for when writing (`.png`, `.jpg`, `.jpeg`, any case).
    public static func forWriting(_ path: String) -> ImageFormat? {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "png": return .png
        case "jpg", "jpeg": return .jpeg
        default: return nil
        }
    }
}

extension Image {
    /// Decoded images may hold at most this many pixels: 4096 x 4096 (16.7 Mpx) unless
    /// `LORWEB_MAX_PIXELS` or `--max-pixels` says otherwise. Every command works at a few hundred
    /// pixels a side (the small world at 32, the authors' buckets at 512-1024) and downscales a
    /// larger query anyway, so a bigger image is almost always a decompression bomb: a 783 KB PNG
    /// declaring 16384 x 16384 would otherwise cost 8.8 GB. The check uses the size declared in
    /// the file header, before any pixel memory is allocated.
    nonisolated(unsafe) public static var maxPixels: Int =
        ProcessInfo.processInfo.environment["LORWEB_MAX_PIXELS"].flatMap { Int($0) }.flatMap { $0 >= 1 ? $0 : nil } ?? 4096 * 4096

    /// `maxPixels`, lowered when memory is too small for it: a decoded pixel takes up to 8 bytes
    /// while the C decoder's buffer and the Swift copy both exist.
    static var pixelLimit: Int { min(maxPixels, MemoryBudget.limit.bytes / 8) }

    /// Reads a PNG or JPEG file, recognised by its signature. PNGs with alpha (an alpha channel
    /// or a tRNS chunk) come back as RGBA, everything else as RGB; samples match Pillow's
    /// `Image.open(path).convert("RGB")` / `convert("RGBA")` (see `cimageio.h` for the rules).
    /// EXIF orientation is not applied.
    public static func read(_ path: String) throws -> Image {
        try decode(readFileBytes(path), path: path)
    }

    /// Decodes PNG or JPEG bytes; `path` only names the source in errors.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> Image {
        if data.isEmpty { throw FormatError(path, "empty file, not an image") }
        guard let format = ImageFormat.detect(data.prefix(8)) else {
            throw FormatError(path, "not a PNG or JPEG file (unrecognised signature)")
        }
        var decoded = cimg_image()
        var message = [CChar](repeating: 0, count: Int(CIMG_MESSAGE_CAPACITY))
        let code: Int32 = data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            switch format {
            case .png:
                return cimg_png_decode(bytes.baseAddress, bytes.count, UInt64(pixelLimit), &decoded, &message, message.count)
            case .jpeg:
                return cimg_jpeg_decode(bytes.baseAddress, bytes.count, UInt64(pixelLimit), &decoded, &message, message.count)
            }
        }
        guard code == Int32(CIMG_OK), let base = decoded.pixels else {
            let detail = Self.text(of: message)
            if code == Int32(CIMG_ERR_TOO_LARGE) {
                throw FormatError(path, "\(format == .png ? "PNG" : "JPEG") \(detail) (raise it with --max-pixels or LORWEB_MAX_PIXELS)")
            }
            throw FormatError(path, "invalid \(format == .png ? "PNG" : "JPEG"): \(detail)")
        }
        defer { cimg_free(base) }
        let count = Int(decoded.width) * Int(decoded.height) * Int(decoded.channels)
        return Image(width: Int(decoded.width), height: Int(decoded.height), channels: Int(decoded.channels),
                     pixels: Array(UnsafeBufferPointer(start: base, count: count)))
    }

    /// The encoded bytes of this image. PNG keeps RGB or RGBA; JPEG needs RGB (it has no alpha:
    /// call `rgb()` or `rgb(background:)` first, so dropping alpha is always a visible choice).
    /// JPEG uses baseline 4:2:0 at `jpegQuality`, like Pillow's `save(..., quality=q)`.
    public func encoded(as format: ImageFormat, jpegQuality: Int = 95, path: String = "<memory>") throws -> Data {
        if width == 0 || height == 0 { throw FormatError(path, "cannot encode an empty \(width)x\(height) image") }
        if format == .jpeg && channels != 3 {
            throw FormatError(path, "JPEG cannot store alpha; convert the image with rgb() first")
        }
        var message = [CChar](repeating: 0, count: Int(CIMG_MESSAGE_CAPACITY))
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        let code: Int32 = pixels.withUnsafeBufferPointer { src in
            switch format {
            case .png:
                return cimg_png_encode(src.baseAddress, UInt32(width), UInt32(height), UInt32(channels),
                                       &output, &size, &message, message.count)
            case .jpeg:
                return cimg_jpeg_encode(src.baseAddress, UInt32(width), UInt32(height), Int32(jpegQuality),
                                        &output, &size, &message, message.count)
            }
        }
        guard code == Int32(CIMG_OK), let output else {
            let detail = Self.text(of: message)
            throw FormatError(path, "cannot encode \(format == .png ? "PNG" : "JPEG"): \(detail)")
        }
        defer { cimg_free(output) }
        return Data(bytes: output, count: size)
    }

    /// Writes the image in the format its extension names (`.png`, `.jpg`, `.jpeg`). The file is
    /// written to a temporary name in the same folder and renamed into place, so readers never
    /// see a partial image and a failed write leaves nothing behind.
    public func write(to path: String, jpegQuality: Int = 95) throws {
        guard let format = ImageFormat.forWriting(path) else {
            throw FormatError(path, "unsupported image extension (use .png, .jpg or .jpeg)")
        }
        let data = try encoded(as: format, jpegQuality: jpegQuality, path: path)
        try AtomicFile.write(data, to: path)
    }

    /// The NUL-terminated message the C shim wrote into `buffer`.
    private static func text(of buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
