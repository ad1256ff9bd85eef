import Formats
import Foundation
import Testing
import Tensor
@testable import SmallWorld
import TestSupport

/// A fresh path under the temporary folder (not created).
private func scratch(_ label: String = #function) -> String { scratchPath("smallworld-" + label) }

/// Every file under `folder`, as relative path -> bytes.
private func contents(_ folder: String) throws -> [String: Data] {
    var files: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(atPath: folder)!
    while let relative = enumerator.nextObject() as? String {
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: "\(folder)/\(relative)", isDirectory: &isFolder)
        if !isFolder.boolValue { files[relative] = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(relative)")) }
    }
    return files
}

private func smallOptions(seed: UInt64 = 5) -> SmallWorldSynth.Options {
    var options = SmallWorldSynth.Options()
    options.seed = seed
    options.train = 40
    options.evalPerSplit = 10
    return options
}

@Suite struct SmallWorldSynthTests {
    @Test func smallRunWritesTheRelationLayoutAndAValidManifest() throws {
        let folder = scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let written = try SmallWorldSynth.generate(smallOptions(), into: folder)
        let dataset = try SmallWorldDataset(folder: folder)
        #expect(dataset.manifest == written)
        #expect(dataset.manifest.size == 32 && dataset.manifest.seed == 5 && dataset.manifest.families.count == Families.all.count)
        #expect(dataset.samples(.train).count == 40 && dataset.samples(.seen).count == 10 && dataset.samples(.unseen).count == 10)
        #expect(Set(dataset.samples(.unseen).compactMap(\.unseenKind)) == Set(UnseenKind.allCases))

        let files = try contents(folder)
        #expect(files.count == 60 * 8 + 1)
        let trainTasks = Set(dataset.manifest.tasks.filter { $0.split == .train }.map(\.id))
        for sample in dataset.manifest.samples {
            let (a, ap, b, bp) = try dataset.images(sample)
            #expect([a, ap, b, bp].allSatisfy { $0.width == 32 && $0.height == 32 && $0.channels == 3 })
            #expect(a != ap && b != bp, "\(sample.name) shows no edit")
            let strip = try Image.read(dataset.path(sample.control))
            #expect(strip == {
                var s = Image(width: 96, height: 32, color: [0, 0, 0])
                s.paste(a, x: 0, y: 0); s.paste(ap, x: 32, y: 0); s.paste(b, x: 64, y: 0)
                return s
            }())
            #expect(try Image.read(dataset.path(sample.target)) == bp)
            #expect(String(decoding: files[sample.captionFile]!, as: UTF8.self) == sample.caption + "\n")
            let mask = try Image.read(dataset.path(sample.mask))
            for i in 0..<(32 * 32) {
                let differs = b.pixels[3 * i..<3 * i + 3] != bp.pixels[3 * i..<3 * i + 3]
                #expect(mask.pixels[3 * i] == (differs ? 255 : 0))
            }
            // The sample's task is the one the plan lists for its split.
            #expect((sample.split == .unseen) != trainTasks.contains(sample.task))
            #expect(EditTask(sample.steps).id == sample.task && EditTask(sample.steps).caption == sample.caption)
        }
    }

    @Test func sameSeedGivesIdenticalBytesOnAnyThreadCount() throws {
        let first = scratch(), second = scratch(), other = scratch()
        defer { for f in [first, second, other] { try? FileManager.default.removeItem(atPath: f) } }
        let threads = Runtime.threads
        defer { Runtime.threads = threads }
        Runtime.threads = 1
        _ = try SmallWorldSynth.generate(smallOptions(), into: first)
        Runtime.threads = 3
        _ = try SmallWorldSynth.generate(smallOptions(), into: second)
        _ = try SmallWorldSynth.generate(smallOptions(seed: 6), into: other)
        let a = try contents(first), b = try contents(second)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, bytes) in a { #expect(b[name] == bytes, "\(name) differs between runs") }
        #expect(try contents(other)["control/train_000000.png"] != a["control/train_000000.png"])
    }

    @Test func refusesBadOutputFoldersAndSizes() throws {
        let folder = scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: "\(folder)/notes.txt"))
        #expect { try SmallWorldSynth.generate(smallOptions(), into: folder) } throws: { "\($0)".contains("not empty") }
        #expect(!FileManager.default.fileExists(atPath: "\(folder)/control"))

        // --force replaces a previous small world and keeps unrelated files.
        var force = smallOptions()
        force.force = true
        _ = try SmallWorldSynth.generate(force, into: folder)
        force.train = 3
        _ = try SmallWorldSynth.generate(force, into: folder)
        #expect(try contents(folder).keys.filter { $0.hasPrefix("control/") }.count == 23)
        #expect(FileManager.default.fileExists(atPath: "\(folder)/notes.txt"))

        #expect { try SmallWorldSynth.generate(smallOptions(), into: "\(folder)/missing/world") } throws: {
            "\($0)".contains("parent folder") && "\($0)".contains("does not exist")
        }
        for size in [0, 30, 8, 512] {
            var options = smallOptions()
            options.size = size
            #expect { try SmallWorldSynth.generate(options, into: scratch()) } throws: { "\($0)".contains("multiple of 8") }
        }
    }

    @Test func otherSizesDrawTheSameWorld() throws {
        let folder = scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var options = smallOptions()
        options.size = 48
        options.train = 6
        options.evalPerSplit = 0
        let manifest = try SmallWorldSynth.generate(options, into: folder)
        #expect(manifest.samples.count == 6)
        #expect(try Image.read("\(folder)/control/train_000000.png").width == 144)
    }

    @Test func commandLineReportsErrorsOnOneLine() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lorweb")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("lorweb is not built next to the tests (\(binary.path)); run `swift build` first")
            return
        }
        // A bad argument is a usage error (exit 2); an unusable output folder a failure (exit 1).
        for (arguments, status) in [(["synth", "--out", scratch(), "--size", "30"], Int32(2)), (["synth", "--out", "/nonexistent-parent/world"], 1)] {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            let err = Pipe()
            process.standardError = err
            process.standardOutput = Pipe()
            try process.run()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == status)
            #expect(message.hasPrefix("lorweb: ") && message.split(separator: "\n").count == 1, "\(message)")
        }
    }
}
