import Foundation
import Tensor

/// NumPy's `.npy` format: how analysis results (coefficients, singular values, similarity
/// matrices) leave lorweb for notebooks, and how arrays from Python come in.
///
/// The layout is the magic `\x93NUMPY`, a version, a little-endian header length, then a Python
/// dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with
/// spaces and a newline, then the raw C-order data.
///
/// ```swift
/// try NPY.write(coefficients, to: "coeffs.npy")     // np.load("coeffs.npy").shape == (T, L, n)
/// let s = try NPY.read("singular_values.npy")
/// ```
public enum NPY {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Writes `tensor` as float32 (`<f4`, C order, format version 1.0), atomically.
    public static func write(_ tensor: Tensor, to path: String) throws {
        // numpy spells a 1-d shape "(3,)" and a scalar "()": Python tuple syntax.
        let dims = tensor.shape.map(String.init)
        let shape = dims.count == 1 ? "(\(dims[0]),)" : "(\(dims.joined(separator: ", ")))"
        var dict = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }".utf8)
        // Pad so the data starts on a 64-byte boundary (numpy's own choice since 1.x), newline last.
        let preamble = magic.count + 2 + 2
        dict.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (64 - (preamble + dict.count + 1) % 64) % 64))
        dict.append(UInt8(ascii: "\n"))
        guard dict.count <= Int(UInt16.max) else { throw FormatError(path, "shape \(tensor.shape) makes an NPY header too long") }

        try AtomicFile.write(to: path) { out in
            try out.write(magic + [1, 0, UInt8(dict.count & 0xFF), UInt8(dict.count >> 8)])
            try out.write(dict)
            try out.write(UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4))
        }
    }

    /// Reads a C-order little-endian float array (`<f4`, or `<f8` / `<f2` converted to float32).
    /// Throws a `FormatError` naming the file for anything else (Fortran order, big-endian data,
    /// other types, a truncated file).
    public static func read(_ path: String) throws -> Tensor {
        // The header alone is checked first against the file's size, so a sparse file of
        // terabytes (or one whose shape does not fit its length) is refused without reading it.
        let (fd, info) = try openRegularFile(path)
        close(fd)
        let head = try readFileBytes(path, limit: maxHeaderEnd)
        _ = try head.withUnsafeBytes { try layout($0, path: path, fileSize: Int(info.st_size)) }
        let bytes = try readFileBytes(path)
        return try bytes.withUnsafeBytes { try parse($0, path: path) }
    }

    /// Where the header ends at the latest: the 16-bit length this writer and numpy's default
    /// version 1 use. Longer headers (versions 2 and 3 allow 4 GB) are refused.
    static let maxHeaderEnd = 12 + Int(UInt16.max)

    static func parse(_ file: UnsafeRawBufferPointer, path: String) throws -> Tensor {
        let (shape, size, count, dataStart) = try layout(file, path: path, fileSize: file.count)
        let t = Tensor(uninitialized: shape)
        let src = file.baseAddress! + dataStart
        switch size {
        case 2: HalfFloat.decodeF16(src, into: t.data, count: count)
        case 8: SafetensorsDType.f64.decode(src, into: t.data, count: count)
        default: SafetensorsDType.f32.decode(src, into: t.data, count: count)
        }
        return t
    }

    /// The shape, bytes per value, value count and data offset the header at the start of `file`
    /// declares, checked against a file of `fileSize` bytes.
    static func layout(_ file: UnsafeRawBufferPointer, path: String, fileSize: Int) throws
        -> (shape: [Int], size: Int, count: Int, dataStart: Int) {
        func fail(_ problem: String) -> FormatError { FormatError(path, problem) }
        guard file.count >= 10, Array(file[0..<6]) == magic else { throw fail("not an NPY file (no \\x93NUMPY magic)") }
        let major = file[6]
        // Version 1 has a 2-byte header length; versions 2 and 3 a 4-byte one.
        let lengthBytes = major == 1 ? 2 : 4
        guard (1...3).contains(major), file.count >= 8 + lengthBytes else { throw fail("unsupported NPY version \(major).\(file[7])") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(file[8 + i]) << (8 * i) }
        let dataStart = 8 + lengthBytes + headerLength
        guard dataStart <= maxHeaderEnd else { throw fail("header length \(headerLength) is longer than the \(Int(UInt16.max)) bytes supported") }
        guard dataStart <= file.count else { throw fail("header length \(headerLength) is larger than the file") }
        guard let header = String(validating: UnsafeRawBufferPointer(rebasing: file[(8 + lengthBytes)..<dataStart]), as: UTF8.self) else {
            throw fail("header is not valid text")
        }

        guard let descr = field("descr", in: header).flatMap(quoted) else { throw fail("header has no 'descr' string") }
        guard let fortran = field("fortran_order", in: header) else { throw fail("header has no 'fortran_order'") }
        guard fortran.hasPrefix("False") else {
            throw fail("Fortran-order arrays are not supported (save with np.ascontiguousarray)")
        }
        guard let shapeText = field("shape", in: header), let shape = tuple(shapeText) else {
            throw fail("header has no readable 'shape' tuple")
        }
        let size: Int
        switch descr {
        case "<f4": size = 4
        case "<f8": size = 8
        case "<f2": size = 2
        case ">f2", ">f4", ">f8": throw fail("big-endian data ('\(descr)') is not supported; use arr.astype('<f4')")
        default: throw fail("dtype '\(descr)' is not supported (float16, float32 or float64 only)")
        }
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, d >= 0 else { throw fail("shape \(shape) is invalid") }
            count = p
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow else { throw fail("shape \(shape) is too large") }
        guard fileSize - dataStart == byteCount else {
            throw fail("data holds \(fileSize - dataStart) bytes but shape \(shape) of '\(descr)' needs \(byteCount)")
        }
        try MemoryBudget.require(byteCount + count * 4, for: "shape \(shape) of '\(descr)' read as float32", in: path)
        return (shape, size, count, dataStart)
    }

    /// The text after `'key':` in the header dict, up to the end of the header.
    private static func field(_ key: String, in header: String) -> Substring? {
        guard let r = header.range(of: "'\(key)':") else { return nil }
        return header[r.upperBound...].drop(while: { $0 == " " })
    }

    /// The contents of a leading single- or double-quoted Python string.
    private static func quoted(_ s: Substring) -> String? {
        guard let q = s.first, q == "'" || q == "\"" else { return nil }
        let rest = s.dropFirst()
        return rest.firstIndex(of: q).map { String(rest[..<$0]) }
    }

    /// The integers of a leading Python tuple such as `(3, 4)`, `(3,)` or `()`.
    private static func tuple(_ s: Substring) -> [Int]? {
        guard s.first == "(", let close = s.firstIndex(of: ")") else { return nil }
        let items = s[s.index(after: s.startIndex)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let dims = items.compactMap { Int($0) }
        return dims.count == items.count ? dims : nil
    }
}
