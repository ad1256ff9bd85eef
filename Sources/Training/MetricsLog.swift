import Foundation
import Formats

/// One line of a run's `metrics.jsonl`.
public struct MetricsRecord: Equatable {
    /// Completed steps after this one (1-based).
    public var step: Int
    public var loss: Float
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    /// Wall time of the step.
    public var seconds: Double
    /// Caller-defined values (mean timestep, per-term losses, ...).
    public var extra: [String: Double]

    public init(step: Int, loss: Float, learningRate: Double, gradNorm: Double, seconds: Double, extra: [String: Double] = [:]) {
        self.step = step; self.loss = loss; self.learningRate = learningRate
        self.gradNorm = gradNorm; self.seconds = seconds; self.extra = extra
    }

    /// The JSON object, keys in a fixed order (`extra` sorted), non-finite numbers as null.
    public var jsonLine: String {
        func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
        let extras = extra.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(number($0.value))" }
        return #"{"step":\#(step),"loss":\#(loss.isFinite ? "\(loss)" : "null"),"lr":\#(number(learningRate)),"#
            + #""grad_norm":\#(number(gradNorm)),"seconds":\#(number(seconds)),"extra":{\#(extras.joined(separator: ","))}}"#
    }
}

/// `s` as a JSON string literal (the escapes RFC 8259 requires).
private func quoted(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
        switch c {
        case "\"", "\\": out += "\\" + String(c)
        case _ where c.value < 0x20: out += String(format: "\\u%04x", c.value)
        default: out.unicodeScalars.append(c)
        }
    }
    return out + "\""
}

/// A run's metrics log: one JSON object per step, appended as steps finish.
///
/// Lines go straight to the file (a crash loses at most the lines since the last sync) and are
/// fsynced every `syncEvery` lines and on `sync()`, which the training loop calls with every
/// checkpoint. On resume the log is first cut back to the checkpoint's step, so the steps that
/// are run again are not logged twice.
public final class MetricsLog {
    public static let fileName = "metrics.jsonl"
    public let path: String
    public let syncEvery: Int
    private let fd: Int32
    private var unsynced = 0

    /// Opens `path` for appending. With `keepingThrough: nil` the log starts empty; with a step,
    /// only the complete lines of steps up to it are kept (a torn last line is dropped too).
    public init(path: String, keepingThrough step: Int?, syncEvery: Int = 50) throws {
        self.path = path
        self.syncEvery = max(1, syncEvery)
        var kept = Data()
        if let step, let old = FileManager.default.contents(atPath: path) {
            for line in old.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let s = object["step"] as? Int, s <= step else { break }
                kept.append(contentsOf: line)
                kept.append(UInt8(ascii: "\n"))
            }
        }
        try AtomicFile.write(kept, to: path)
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw FormatError(path, "cannot open for appending: \(String(cString: strerror(errno)))") }
    }

    deinit {
        fsync(fd)
        close(fd)
    }

    /// Appends one record as a line.
    public func append(_ record: MetricsRecord) throws {
        let bytes = Array((record.jsonLine + "\n").utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw FormatError(path, "cannot append: \(String(cString: strerror(errno)))") }
        unsynced += 1
        if unsynced >= syncEvery { try sync() }
    }

    /// Flushes appended lines to disk.
    public func sync() throws {
        guard fsync(fd) == 0 else { throw FormatError(path, "cannot flush to disk: \(String(cString: strerror(errno)))") }
        unsynced = 0
    }
}
