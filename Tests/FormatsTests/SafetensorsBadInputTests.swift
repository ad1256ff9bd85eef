import Foundation
import Testing
@testable import Formats
import TestSupport

// Every malformed safetensors file must give a FormatError that names the file and the specific
// problem, never a crash or a read outside the file. The files are built here from one good file.

@Test(arguments: badFiles)
func badSafetensorsFileGivesNamedError(_ bad: BadFile) throws {
    let path = try scratchFolder() + "/\(bad.name).safetensors"
    try AtomicFile.write(bad.bytes, to: path)
    guard let e = formatError({ _ = try SafetensorsFile(path: path) }) else { return }
    #expect(e.path == path)
    #expect(e.problem.contains(bad.expected), "\(bad.name): got '\(e.problem)'")
    #expect(e.description == "\(path): \(e.problem)" && !e.description.contains("\n"))
}

@Test func theGoodBaseFileOpens() throws {
    let path = try scratchFolder() + "/good.safetensors"
    try AtomicFile.write(goodSafetensorsFile, to: path)
    let f = try SafetensorsFile(path: path)
    #expect(f.names == ["a", "b"] && f.info("b")?.dataOffsets == 8..<14)
}

@Test func missingFileAndFolderAreNamedErrors() throws {
    let folder = try scratchFolder()
    let e1 = formatError { _ = try SafetensorsFile(path: folder + "/absent.safetensors") }
    #expect(e1?.problem == "cannot open: No such file or directory")
    let e2 = formatError { _ = try SafetensorsFile(path: folder) }
    #expect(e2?.path == folder && e2?.problem == "is a directory, not a regular file")
}
