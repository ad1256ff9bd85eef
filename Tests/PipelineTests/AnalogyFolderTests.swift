import Foundation
import Testing
import Formats
@testable import Pipeline
import TestSupport

@Suite struct AnalogyFolderTests {
    func folder() throws -> String {
        let root = scratchPath("analogies")
        for sub in ["control", "target"] { try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true) }
        return root
    }

    func strip(_ w: Int, _ h: Int) -> Image {
        var s = Image(width: 3 * w, height: h, color: [200, 0, 0])
        s.paste(Image(width: w, height: h, color: [0, 200, 0]), x: w, y: 0)
        s.paste(Image(width: w, height: h, color: [0, 0, 200]), x: 2 * w, y: 0)
        return s
    }

    @Test func buildsGridsFromPNGAndJPEG() throws {
        let root = try folder()
        try strip(32, 32).write(to: root + "/control/one.png")
        try Image(width: 32, height: 32, color: [9, 9, 9]).write(to: root + "/target/one.png")
        try "make it dark\n".write(toFile: root + "/target/one.txt", atomically: true, encoding: .utf8)
        try strip(40, 32).write(to: root + "/control/two.jpg")
        try Image(width: 32, height: 32, color: [250, 250, 250]).write(to: root + "/target/two.jpeg")
        try "".write(toFile: root + "/target/two.txt", atomically: true, encoding: .utf8)

        let data = try AnalogyFolder(root)
        #expect(data.names == ["one", "two"])
        let s = try data.sample(0)
        #expect(s.caption == "make it dark" && s.target.width == 64 && s.target.height == 64)
        #expect(s.target[48, 48] == [9, 9, 9] && s.conditioning[48, 48] == [0, 0, 200])
        #expect(s.target[8, 8] == [200, 0, 0] && s.target[40, 8] == [0, 200, 0])
        #expect(try data.sample(1).target.width == 64)
        let tiny = try AnalogyFolder(root, divisibility: 128)
        #expect(throws: FormatError.self) { try tiny.sample(0) }
    }

    @Test func unmatchedFilesAreListed() throws {
        let root = try folder()
        try strip(8, 8).write(to: root + "/control/a.png")
        try Image(width: 8, height: 8, color: [0, 0, 0]).write(to: root + "/target/b.png")
        do {
            _ = try AnalogyFolder(root)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("control/a has no target image") && "\(error)".contains("target/b has no control strip"))
        }
        #expect(throws: FormatError.self) { try AnalogyFolder(root + "/nowhere") }
    }

    // Found by fuzzing: Foundation's file readers leaked 4 KB per empty caption; captions now go
    // through Formats' own reader, which must keep the empty case and name a non-UTF-8 file.
    @Test func captionsAreReadAsUTF8OrRefusedByName() throws {
        let root = try folder()
        try strip(32, 32).write(to: root + "/control/one.png")
        try Image(width: 32, height: 32, color: [9, 9, 9]).write(to: root + "/target/one.png")
        #expect(FileManager.default.createFile(atPath: root + "/target/one.txt", contents: Data()))
        #expect(try AnalogyFolder(root).sample(0).caption == "")
        #expect(FileManager.default.createFile(atPath: root + "/target/one.txt", contents: Data([0x66, 0xFF, 0xFE])))
        let error = try #require(throws: FormatError.self) { try AnalogyFolder(root).sample(0) }
        #expect(error.path == root + "/target/one.txt" && error.problem == "is not UTF-8 text (expected a caption)")
    }

    @Test func bucketsFollowAiToolkit() {
        #expect(AspectBuckets.bucket(width: 64, height: 64)! == (64, 64))
        #expect(AspectBuckets.bucket(width: 1024, height: 1024)! == (512, 512))
        let wide = AspectBuckets.bucket(width: 1600, height: 800)!
        #expect(wide.width > wide.height && wide.width % 64 == 0 && wide.height % 64 == 0)
        #expect(AspectBuckets.bucket(width: 32, height: 32) == nil)
    }
}
