import Formats
import Pipeline
import Foundation
import Training

// Output checks, all made before any work, so that a typo fails in a second with a clear line
// instead of after the work, and no input is ever overwritten: every file a command writes
// (side outputs included) is checked against every file it reads.

/// `path` with every symbolic link and "."/".." part resolved; for a path that does not exist
/// yet, its longest existing prefix is resolved and the rest appended.
func realPath(_ path: String) -> String {
    var head = URL(fileURLWithPath: path).standardizedFileURL.path, tail: [String] = []
    while true {
        if let resolved = realpath(head, nil) {
            defer { free(resolved) }
            return ([String(cString: resolved)] + tail.reversed()).joined(separator: "/").replacingOccurrences(of: "//", with: "/")
        }
        guard head != "/", !head.isEmpty else { return path }
        tail.append((head as NSString).lastPathComponent)
        head = (head as NSString).deletingLastPathComponent
    }
}

/// The files a command reads, by resolved path and by device and inode, so that another spelling
/// of a path or a hard link still matches. Nil entries (options not given) are skipped.
struct InputFiles {
    private var byPath: [String: String] = [:]
    private var byInode: [[UInt64]: String] = [:]

    init(_ paths: [String?]) {
        for case let path? in paths {
            byPath[realPath(path)] = path
            var info = stat()
            if stat(path, &info) == 0 { byInode[[UInt64(info.st_dev), UInt64(info.st_ino)]] = path }
        }
    }

    /// The input that the resolved path `target` would replace, if any.
    func replaced(by target: String) -> String? {
        if let input = byPath[target] { return input }
        var info = stat()
        return stat(target, &info) == 0 ? byInode[[UInt64(info.st_dev), UInt64(info.st_ino)]] : nil
    }

    /// An input inside the resolved folder `folder`, if any.
    func inside(_ folder: String) -> String? {
        byPath.first { $0.key.hasPrefix(folder + "/") }?.value
    }
}

/// Checks outputs before any work: each one's folder must exist and be writable, no output may
/// be one of `inputs`, no two outputs may be the same file, and a file output (not `folders`)
/// may not be an existing folder.
func checkOutputs(_ outputs: [String], inputs: InputFiles, folders areFolders: Bool = false) throws {
    var written: [String: String] = [:], folders: Set<String> = []
    for out in outputs {
        let target = realPath(out)
        let parent = (target as NSString).deletingLastPathComponent
        if folders.insert(parent).inserted {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder) else {
                throw FormatError(out, "output folder \(parent) does not exist")
            }
            guard isFolder.boolValue else { throw FormatError(out, "\(parent) is not a folder") }
            guard access(parent, W_OK) == 0 else { throw FormatError(out, "output folder \(parent) is not writable") }
        }
        if let input = inputs.replaced(by: target) { throw FormatError(out, "is also an input (\(input)); choose another output path") }
        var isFolder: ObjCBool = false
        if !areFolders, FileManager.default.fileExists(atPath: target, isDirectory: &isFolder), isFolder.boolValue {
            throw FormatError(out, "is an existing folder; expected the path of a file to write")
        }
        if let other = written.updateValue(out, forKey: target) {
            throw FormatError(out, "is written twice (also as \(other)); outputs must differ")
        }
    }
}

/// `checkOutputs` for one output (a file, or a `folder` the command writes into) and plain input
/// paths (nil for options not given).
func checkOutput(_ out: String, inputs: [String?], folder: Bool = false) throws {
    try checkOutputs([out], inputs: InputFiles(inputs), folders: folder)
}

/// Checks an output folder whose contents the command owns (a report, a PCA): besides
/// `checkOutput`, no input may lie inside it, where a file the command writes could replace it.
func checkOutputFolder(_ out: String, inputs: [String?]) throws {
    let files = InputFiles(inputs)
    try checkOutputs([out], inputs: files, folders: true)
    if let input = files.inside(realPath(out)) { throw FormatError(out, "holds an input (\(input)); choose another output folder") }
}

/// The images a triplet list reads.
func images(of list: TripletList) -> [String] {
    list.triplets.flatMap { [$0.a, $0.aPrime, $0.b] + ($0.bPrime.map { [$0] } ?? []) }
}

/// Where batch `edit` writes each triplet's b', checked before the first edit; `folder` must
/// exist. A triplet list is third-party data, so every output stays inside `folder`: an id must
/// be a plain file name (it becomes `<id>.png`), an `out` cell a relative path without ".."
/// that, with symbolic links resolved, still lies inside the folder, in a subfolder that exists;
/// no output may be any row's input or another row's output. Errors name the list and the row.
func batchTargets(_ list: TripletList, listPath: String, folder: String) throws -> [String] {
    let root = realPath(folder)
    let inputs = InputFiles(images(of: list) + [listPath])
    var targets: [String] = [], written: [String: Int] = [:]
    for (i, t) in list.triplets.enumerated() {
        func refuse(_ problem: String) -> FormatError {
            FormatError(listPath, "row \(i + 1) (id \(quotedInput(t.id))): \(problem)")
        }
        let relative: String
        if let out = t.out {
            guard !out.hasPrefix("/") else { throw refuse("out \(quotedInput(out)) is an absolute path; outputs must stay inside \(folder)") }
            guard !out.split(separator: "/").contains("..") else {
                throw refuse("out \(quotedInput(out)) climbs out with '..'; outputs must stay inside \(folder)")
            }
            relative = out
        } else {
            guard !t.id.isEmpty, !t.id.contains("/"), t.id != ".", t.id != "..", !t.id.contains("\0") else {
                throw refuse("the id names the output <id>.png in \(folder) and must be a plain file name")
            }
            relative = t.id + ".png"
        }
        let path = folder + "/" + relative, target = realPath(path)
        guard target.hasPrefix(root + "/") else {
            throw refuse("\(quotedInput(relative)) resolves to \(target), outside \(folder), through a symbolic link")
        }
        var isFolder: ObjCBool = false
        let parent = (target as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder), isFolder.boolValue else {
            throw refuse("output folder \(parent) does not exist")
        }
        if let input = inputs.replaced(by: target) { throw refuse("\(path) is also an input (\(input))") }
        if let other = written.updateValue(i, forKey: target) { throw refuse("\(path) is also the output of row \(other + 1)") }
        targets.append(path)
    }
    return targets
}

/// Takes a training run's folder `out` for this process: locks it (`purpose` names the stage when
/// several share the folder) and refuses it when it holds a finished run (the file `product`)
/// unless the run is resumed or `force`d; `force` first removes the old run's checkpoints and
/// log in `training`, so the new run starts from scratch. From here until the training loop
/// starts, SIGINT and SIGTERM end the process at once, removing the lock and a folder it made.
func claimRun(_ out: String, product: String, training: String, purpose: String? = nil, resume: Bool, force: Bool) throws -> FolderLock {
    StopSignals.duringSetup()
    let lock = try StopSignals.holding {
        let lock = try FolderLock(folder: out, purpose: purpose)
        StopSignals.removeOnSetupSignal(files: [lock.path], folders: lock.createdFolder ? [lock.folder] : [])
        return lock
    }
    if FileManager.default.fileExists(atPath: out + "/" + product) {
        guard resume || force else {
            lock.release()
            throw FormatError(out, "holds a finished run (\(product)); continue it with --resume (more --steps), replace it with --force, "
                              + "or choose another folder")
        }
        if force { try TrainingCheckpoint.removeRun(in: out + "/" + training) }
    }
    return lock
}
