import Foundation
import Testing
@testable import Formats
import TestSupport

// CSV, JSON and the atomic writer under them.

@Test func csvQuotesLikeRFC4180() throws {
    let text = try CSV.encode(header: ["name", "value"], rows: [
        ["plain", 1.5], ["comma,inside", 2], ["say \"hi\"", .float(-0.25)], ["multi\nline", .double(.infinity)],
    ])
    #expect(text == "name,value\r\nplain,1.5\r\n\"comma,inside\",2\r\n\"say \"\"hi\"\"\",-0.25\r\n\"multi\nline\",inf\r\n")
}

@Test func csvRowLengthMismatchIsNamed() throws {
    let path = try scratchFolder() + "/t.csv"
    let e = formatError { try CSV.write(header: ["a", "b"], rows: [["x", 1], ["y"]], to: path) }
    #expect(e?.path == path && e?.problem == "row 2 has 1 fields but the header has 2")
    #expect(!FileManager.default.fileExists(atPath: path))
}

@Test func jsonIsSortedPrettyAndEndsInNewline() throws {
    struct Report: Encodable { let zeta: Int; let alpha: [Double]; let path: String }
    let folder = try scratchFolder()
    try JSONFile.write(Report(zeta: 1, alpha: [0.5], path: "a/b"), to: folder + "/r.json")
    let text = try String(contentsOfFile: folder + "/r.json", encoding: .utf8)
    #expect(text == "{\n  \"alpha\" : [\n    0.5\n  ],\n  \"path\" : \"a/b\",\n  \"zeta\" : 1\n}\n")
    try JSONFile.write(object: ["b": 2, "a": [1, 2]], to: folder + "/o.json")
    let object = try String(contentsOfFile: folder + "/o.json", encoding: .utf8)
    #expect(object.hasPrefix("{\n  \"a\" : [") && object.hasSuffix("}\n"))
}

@Test func jsonRejectsNaNWithTheFileName() throws {
    let path = try scratchFolder() + "/nan.json"
    let e = formatError { try JSONFile.write(["x": Double.nan], to: path) }
    #expect(e?.path == path && e?.problem.hasPrefix("cannot encode as JSON") == true)
    #expect(formatError { try JSONFile.write(object: ["x": Double.nan], to: path) }?.path == path)
    #expect(!FileManager.default.fileExists(atPath: path))
}

@Test func atomicWriteReplacesWholeFilesAndReportsBadFolders() throws {
    let folder = try scratchFolder()
    let path = folder + "/f.bin"
    try AtomicFile.write([UInt8](repeating: 1, count: 100), to: path)
    try AtomicFile.write([UInt8]([2, 3]), to: path)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([2, 3]))

    // A failing body leaves the old file as it was and no temporary file behind.
    struct Stop: Error {}
    #expect(throws: Stop.self) { try AtomicFile.write(to: path) { out in try out.write([UInt8]([9, 9])); throw Stop() } }
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([2, 3]))
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["f.bin"])

    let missing = folder + "/no/such/folder/x.json"
    let e1 = formatError { try AtomicFile.write(Data(), to: missing) }
    #expect(e1?.path == missing && e1?.problem.contains("No such file or directory") == true)
    let underFile = path + "/x.json"
    #expect(formatError { try AtomicFile.write(Data(), to: underFile) }?.problem.contains("Not a directory") == true)

    // Root ignores permission bits, so use a folder the kernel refuses to create files in.
    let readOnly: String
    if geteuid() == 0 { readOnly = "/sys" } else {
        readOnly = folder + "/ro"
        try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o555])
    }
    let e3 = formatError { try AtomicFile.write(Data(), to: readOnly + "/x.json") }
    #expect(e3?.path == readOnly + "/x.json" && e3?.problem.contains("Permission denied") == true)
}
