import Formats
import Foundation

/// Checks an output path before any work: its folder must exist and be writable, and it must
/// not be one of the command's inputs (or inside an input folder's files), so that a typo fails
/// in a second with a clear line instead of after the work, and no input is ever overwritten.
/// `inputs` may hold nil for options not given and non-path values (they match nothing).
func checkOutput(_ out: String, inputs: [String?]) throws {
    let target = URL(fileURLWithPath: out).standardizedFileURL.resolvingSymlinksInPath()
    let parent = target.deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder) else {
        throw FormatError(out, "output folder \(parent) does not exist")
    }
    guard isFolder.boolValue else { throw FormatError(out, "\(parent) is not a folder") }
    guard access(parent, W_OK) == 0 else { throw FormatError(out, "output folder \(parent) is not writable") }
    var outInfo = stat()
    let outExists = stat(target.path, &outInfo) == 0
    for case let input? in inputs {
        let source = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath()
        var inInfo = stat()
        let same = source.path == target.path
            || (outExists && stat(source.path, &inInfo) == 0 && inInfo.st_dev == outInfo.st_dev && inInfo.st_ino == outInfo.st_ino)
        guard !same else { throw FormatError(out, "is also an input (\(input)); choose another output path") }
    }
}
