import Foundation
import Formats

// A folder of analogy pairs in the layout the release trains on (Relation252k after its
// preprocessing): `control/NAME.{png,jpg,jpeg}` holds the 1x3 strip [a | a' | b],
// `target/NAME.{png,jpg,jpeg}` holds b', `target/NAME.txt` the edit instruction. Grids are built
// on the fly as the release's dataloader builds them.

/// One training pair of the folder.
public struct AnalogySample {
    public let name: String
    public let caption: String
    /// [[a, a'], [b, b']] fitted to its bucket.
    public let target: Image
    /// The same grid with b in the bottom-right quadrant.
    public let conditioning: Image
}

public struct AnalogyFolder {
    public let root: String
    /// Sample names (file stems), sorted.
    public let names: [String]
    let controlFiles: [String: String], targetFiles: [String: String]
    public let resolution: Int, divisibility: Int

    static let imageExtensions = ["png", "jpg", "jpeg"]

    /// Indexes `root`, failing with one message that lists every unmatched or missing file.
    public init(_ root: String, resolution: Int = 512, divisibility: Int = 64) throws {
        self.root = root
        self.resolution = resolution
        self.divisibility = divisibility
        func images(_ sub: String) throws -> [String: String] {
            let dir = root + "/" + sub
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                throw FormatError(dir, "missing: an analogy folder needs control/ and target/ subfolders")
            }
            var found: [String: String] = [:]
            for e in entries where Self.imageExtensions.contains((e as NSString).pathExtension.lowercased()) {
                let stem = (e as NSString).deletingPathExtension
                if let other = found[stem] { throw FormatError(dir + "/" + e, "two images for sample \(stem) (also \(other))") }
                found[stem] = dir + "/" + e
            }
            return found
        }
        controlFiles = try images("control")
        targetFiles = try images("target")
        let controls = Set(controlFiles.keys), targets = Set(targetFiles.keys)
        var problems: [String] = []
        for n in controls.subtracting(targets).sorted() { problems.append("control/\(n) has no target image") }
        for n in targets.subtracting(controls).sorted() { problems.append("target/\(n) has no control strip") }
        for n in controls.intersection(targets).sorted() where !FileManager.default.fileExists(atPath: "\(root)/target/\(n).txt") {
            problems.append("target/\(n).txt (the caption) is missing")
        }
        guard problems.isEmpty else {
            throw FormatError(root, problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? "; ... (\(problems.count) problems)" : ""))
        }
        guard !controls.isEmpty else { throw FormatError(root, "no analogy pairs (control/ is empty)") }
        names = controls.sorted()
    }

    public var count: Int { names.count }

    /// Reads and builds sample `index`: the strip is split in thirds after resizing it to
    /// (3W, H) with (W, H) = b''s size; the grid is fitted to its aspect bucket.
    public func sample(_ index: Int) throws -> AnalogySample {
        let name = names[index]
        let strip = try Image.read(controlFiles[name]!), bPrime = try Image.read(targetFiles[name]!)
        guard strip.width >= 3 else { throw FormatError(controlFiles[name]!, "a control strip must hold three images side by side; it is \(strip.width) pixels wide") }
        let captionPath = "\(root)/target/\(name).txt"
        let caption = try readTextFile(captionPath, what: "a caption")
        guard let bucket = AspectBuckets.bucket(width: 2 * bPrime.width, height: 2 * bPrime.height, resolution: resolution, divisibility: divisibility) else {
            throw FormatError(targetFiles[name]!, "b' is \(bPrime.width)x\(bPrime.height): its grid is too small for buckets with sides multiple of \(divisibility)")
        }
        let grids = AnalogyGrid.training(strip: strip, bPrime: bPrime, bucket: bucket)
        return AnalogySample(name: name, caption: caption.trimmingCharacters(in: .whitespacesAndNewlines),
                             target: grids.target, conditioning: grids.conditioning)
    }
}
