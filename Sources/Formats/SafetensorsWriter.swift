import Foundation
import Tensor

/// Writing safetensors files.
public enum Safetensors {
    /// Writes `tensors` to `path` as one safetensors file, atomically (see `AtomicFile`).
    ///
    /// The output is deterministic: tensors are stored in name order, the header JSON has sorted
    /// keys and no whitespace, and it is padded with spaces so the data section starts on an
    /// 8-byte boundary, as the Hugging Face writer does. Values are stored as `dtype` (float32,
    /// float16 or bfloat16, rounded to nearest even); infinities and NaNs are kept, they are data.
    ///
    /// ```swift
    /// try Safetensors.write(["w": w, "b": b], dtype: .f16, metadata: ["format": "pt"], to: "model.safetensors")
    /// ```
    /// - Throws: `FormatError` for a duplicate or reserved name, an unsupported dtype, or an I/O failure.
    public static func write(_ tensors: [(String, Tensor)], dtype: SafetensorsDType = .f32,
                             metadata: [String: String] = [:], to path: String) throws
    {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw FormatError(path, "cannot write \(dtype.rawValue): only F32, F16 and BF16 are supported")
        }
        let sorted = tensors.sorted { $0.0 < $1.0 }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.0 == b.0 {
            throw FormatError(path, "tensor name '\(a.0)' appears twice")
        }
        if sorted.contains(where: { $0.0 == "__metadata__" }) {
            throw FormatError(path, "'__metadata__' is reserved and cannot name a tensor")
        }
        let header = Self.header(sorted.map { ($0.0, $0.1.shape) }, dtype: dtype, metadata: metadata)

        try AtomicFile.write(to: path) { out in
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try out.write($0) }
            try out.write(header)
            for (_, t) in sorted { try writeData(t, as: dtype, to: out) }
        }
    }

    /// Writes a dictionary of tensors; the same as the list form (names are sorted anyway).
    public static func write(_ tensors: [String: Tensor], dtype: SafetensorsDType = .f32,
                             metadata: [String: String] = [:], to path: String) throws
    {
        try write(tensors.map { ($0.key, $0.value) }, dtype: dtype, metadata: metadata, to: path)
    }

    /// The header JSON for tensors already sorted by name, padded to a multiple of 8 bytes.
    static func header(_ tensors: [(String, [Int])], dtype: SafetensorsDType, metadata: [String: String]) -> [UInt8] {
        var entries: [(key: String, json: String)] = []
        var offset = 0
        for (name, shape) in tensors {
            let bytes = Shape.count(shape) * dtype.byteSize
            let shapeText = shape.map(String.init).joined(separator: ",")
            entries.append((name, #"{"dtype":"\#(dtype.rawValue)","shape":[\#(shapeText)],"data_offsets":[\#(offset),\#(offset + bytes)]}"#))
            offset += bytes
        }
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            entries.append(("__metadata__", "{\(pairs.joined(separator: ","))}"))
        }
        // Byte-wise order, so the result does not depend on Unicode collation.
        entries.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var json = Array("{\(entries.map { "\(jsonString($0.key)):\($0.json)" }.joined(separator: ","))}".utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return json
    }

    /// Streams one tensor's values in the target type, converting in bounded chunks so that
    /// writing a large checkpoint as float16 never holds a second full copy in memory.
    private static func writeData(_ t: Tensor, as dtype: SafetensorsDType, to out: AtomicFile.Writer) throws {
        if dtype == .f32 {
            try out.write(UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
            return
        }
        let chunk = 1 << 20
        var halves = [UInt16](repeating: 0, count: min(chunk, t.count))
        var done = 0
        while done < t.count {
            let n = min(chunk, t.count - done)
            try halves.withUnsafeMutableBufferPointer { buffer in
                let dst = buffer.baseAddress!
                if dtype == .f16 {
                    HalfFloat.encodeF16(t.data + done, into: dst, count: n)
                } else {
                    HalfFloat.encodeBF16(t.data + done, into: dst, count: n)
                }
                try out.write(UnsafeRawBufferPointer(start: dst, count: n * 2))
            }
            done += n
        }
    }
}

/// A JSON string literal for `s`, escaping what RFC 8259 requires.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
