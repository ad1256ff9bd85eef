import Formats
import Foundation
import Tensor

/// The small world: a procedural picture domain with analogy tasks and exact ground truth, small
/// enough to train LoRWeB end to end on two CPU cores.
///
/// **Pictures.** Each picture (32x32 by default) shows one subject on a background. Subjects come
/// in three categories echoing the paper's animals, persons and objects: creatures (body, head,
/// ears, eye, legs, tail), figures (head, torso, one arm raised, legs) and objects (circle,
/// square, triangle, star, ring, diamond, cross, hexagon), with random colours, textures
/// (solid, stripes, dots, checker), sizes, places, mirror and quarter turns, on solid, gradient,
/// striped or checked backgrounds, sometimes with stars. Pictures are drawn from a `Scene`
/// description with hard edges, so any edit of the description is drawn exactly.
///
/// **Tasks.** 50 transformation families (`Families.all`) in five kinds: colour and tone (hue
/// rotation, tint, invert, posterize, sepia, ...), style (blur, pixelate, line drawing, noise,
/// ...), object edits (recolour, retexture, change shape, add a hat, collar, halo, ...), layout
/// (move, scale, flip, rotate, centre) and background (plain colour, darken, stars, gradient, ...).
/// A task fixes a family's parameter, or composes two families; a triplet applies one task to
/// two random scenes a and b, giving a' and the ground-truth b'.
///
/// **Splits** (see `TaskPlan`): `train` tasks are every training value of the 42 trainable
/// families plus 24 compositions picked by the seed; `seen` holds new triplets of those tasks;
/// `unseen` holds, in equal thirds, new parameter values of training families, 16 compositions
/// of training families never composed in training, and the 8 held-out families (solarize,
/// duotone, emboss, wave, add_glasses, swap_colors, flip_v, add_sun). Held-out families and
/// those whose caption does not pin the edit down (channel_swap, gamma, scanlines, dither,
/// mirror_half) are not text-describable: the base editor is never trained on them.
///
/// **On disk** (the Relation252k layout the release trains on, PNG):
/// `control/NAME.png` the strip [a | a' | b], `target/NAME.png` b', `target/NAME.txt` the
/// caption, `masks/NAME.png` white where b' differs from b, `images/NAME_{a,ap,b,bp}.png` the
/// four pictures, and `manifest.json` (written last, so a folder without it is incomplete).
///
/// **Regenerate** with `lorweb synth --out data/smallworld` (seed 0, 32x32, 3000 training and
/// 300 + 300 evaluation triplets; about 20 s in a release build on two cores, mostly spent
/// flushing 29,000 small files). The same seed, size and counts give identical bytes on any
/// thread count; a few shapes and filters go through the C library's trigonometry and `pow`,
/// so bytes are guaranteed equal for the same build and platform.
public enum SmallWorldSynth {
    /// Written into the manifest; change it whenever the same options would give other bytes.
    public static let generator = "lorweb synth, small world v1"
    public static let manifestFile = "manifest.json"
    /// The folders `generate` writes (and `force` clears).
    public static let outputFolders = ["control", "target", "masks", "images"]

    /// What to generate.
    public struct Options: Sendable {
        public var seed: UInt64 = 0
        /// Picture side in pixels: a multiple of 8 (so a 2x2 grid packs into codec tokens), 16...256.
        public var size = 32
        public var train = 3000
        /// Triplets in each of the `seen` and `unseen` splits.
        public var evalPerSplit = 300
        /// Replace the small world in a non-empty folder.
        public var force = false

        public init() {}

        public func validate() throws {
            guard size % 8 == 0 && (16...256).contains(size) else {
                throw SmallWorldError("size must be a multiple of 8 between 16 and 256, got \(size)")
            }
            guard train >= 0 && evalPerSplit >= 0 else {
                throw SmallWorldError("sample counts cannot be negative (train \(train), eval \(evalPerSplit))")
            }
        }
    }

    /// The four pictures of one analogy and the scenes they were drawn from.
    public struct Triplet: Sendable {
        public let sceneA: Scene, sceneB: Scene
        public let a: RenderedScene, aPrime: RenderedScene, b: RenderedScene, bPrime: RenderedScene
    }

    /// Draws a triplet of `task`. Each scene is redrawn (up to 64 times) until the task visibly
    /// changes it and leaves more than one flat colour, so no triplet shows a no-op ("make the
    /// background plain red" on a plain red background) or an empty picture (a threshold of a
    /// dark scene).
    public static func triplet(_ task: EditTask, size: Int, rng: RNG) -> Triplet {
        func pair(_ stream: UInt64) -> (Scene, RenderedScene, RenderedScene) {
            var r = rng.fork(stream)
            var attempt = 0
            while true {
                let scene = Scene.random(&r)
                let before = scene.render(size: size), after = task.apply(to: scene, size: size)
                attempt += 1
                if (before.image != after.image && !isFlat(after.image)) || attempt == 64 { return (scene, before, after) }
            }
        }
        let (sa, a, ap) = pair(0), (sb, b, bp) = pair(1)
        return Triplet(sceneA: sa, sceneB: sb, a: a, aPrime: ap, b: b, bPrime: bp)
    }

    /// Whether every pixel of `image` has the same colour.
    static func isFlat(_ image: Image) -> Bool {
        let p = image.pixels
        for i in stride(from: 3, to: p.count, by: 3) where p[i] != p[0] || p[i + 1] != p[1] || p[i + 2] != p[2] { return false }
        return true
    }

    /// Generates the small world into `folder` and returns its manifest. `progress` is called
    /// (serially, from worker threads) after each sample with (done, total).
    public static func generate(_ options: Options, into folder: String,
                                progress: ((Int, Int) -> Void)? = nil) throws -> SmallWorldManifest {
        try options.validate()
        try prepare(folder, force: options.force)
        let plan = TaskPlan(seed: options.seed)
        let counts: [(Split, Int)] = [(.train, options.train), (.seen, options.evalPerSplit), (.unseen, options.evalPerSplit)]
        let jobs = counts.enumerated().flatMap { ordinal, entry in (0..<entry.1).map { (ordinal, entry.0, $0) } }
        let root = RNG(seed: options.seed).fork(2)

        var records = [SampleRecord?](repeating: nil, count: jobs.count)
        let lock = NSLock()
        var done = 0
        var failure: Error?
        records.withUnsafeMutableBufferPointer { out in
            // Each sample has its own stream and its own files, so chunks never interact and the
            // bytes do not depend on the thread count.
            parallelFor(jobs.count, grain: 1) { range in
                for i in range {
                    let (ordinal, split, index) = jobs[i]
                    let (task, kind) = plan.task(split: split, index: index)
                    let rng = root.fork(UInt64(ordinal)).fork(UInt64(index))
                    let name = "\(split.rawValue)_\(String(format: "%06d", index))"
                    let record: SampleRecord
                    do { record = try write(triplet(task, size: options.size, rng: rng), task: task, split: split, unseenKind: kind, name: name, folder: folder) } catch {
                        lock.withLock { failure = failure ?? error }
                        return
                    }
                    out[i] = record
                    lock.withLock {
                        done += 1
                        progress?(done, jobs.count)
                    }
                    if lock.withLock({ failure != nil }) { return }
                }
            }
        }
        if let failure { throw failure }

        let tasks = plan.train.map { TaskRecord($0, split: .train, unseenKind: nil) }
            + UnseenKind.allCases.flatMap { kind in plan.unseen[kind]!.map { TaskRecord($0, split: .unseen, unseenKind: kind) } }
        let manifest = SmallWorldManifest(
            generator: generator, seed: options.seed, size: options.size, splits: splitsText,
            families: Families.all.map(FamilyRecord.init), tasks: tasks, samples: records.map { $0! })
        try JSONFile.write(manifest, to: "\(folder)/\(manifestFile)")
        return manifest
    }

    private static let splitsText = """
        train: every training value of each family not held out, plus compositions of two training \
        families of different kinds chosen by the seed. seen: new triplets of the train tasks. \
        unseen: equal thirds of (parameter) training families with parameter values training never \
        uses, (composition) pairs of training families never composed in training, and (family) \
        the held-out families. Scene edits apply before pixel filters.
        """

    /// Writes the files of one sample and returns its manifest entry.
    private static func write(_ t: Triplet, task: EditTask, split: Split, unseenKind: UnseenKind?,
                              name: String, folder: String) throws -> SampleRecord {
        let size = t.a.image.width
        let record = SampleRecord(
            name: name, task: task.id, families: task.families, steps: task.steps, split: split, unseenKind: unseenKind,
            caption: task.caption, textDescribable: task.textDescribable,
            aCategory: t.sceneA.category, bCategory: t.sceneB.category,
            a: "images/\(name)_a.png", aPrime: "images/\(name)_ap.png", b: "images/\(name)_b.png", bPrime: "images/\(name)_bp.png",
            control: "control/\(name).png", target: "target/\(name).png", captionFile: "target/\(name).txt", mask: "masks/\(name).png")

        var strip = Image(width: 3 * size, height: size, color: [0, 0, 0])
        strip.paste(t.a.image, x: 0, y: 0)
        strip.paste(t.aPrime.image, x: size, y: 0)
        strip.paste(t.b.image, x: 2 * size, y: 0)

        var mask = [UInt8](repeating: 0, count: 3 * size * size)
        for i in 0..<(size * size) where t.b.image.pixels[3 * i..<3 * i + 3] != t.bPrime.image.pixels[3 * i..<3 * i + 3] {
            mask[3 * i] = 255; mask[3 * i + 1] = 255; mask[3 * i + 2] = 255
        }

        let file = { (relative: String) in "\(folder)/\(relative)" }
        try t.a.image.write(to: file(record.a))
        try t.aPrime.image.write(to: file(record.aPrime))
        try t.b.image.write(to: file(record.b))
        try t.bPrime.image.write(to: file(record.bPrime))
        try strip.write(to: file(record.control))
        try t.bPrime.image.write(to: file(record.target))
        try AtomicFile.write(Data((task.caption + "\n").utf8), to: file(record.captionFile))
        try Image(width: size, height: size, channels: 3, pixels: mask).write(to: file(record.mask))
        return record
    }

    /// Makes `folder` ready: created if missing (its parent must exist); if it holds anything,
    /// refused unless `force`, which removes only a previous small world (the output folders and
    /// the manifest) and leaves any other file alone.
    static func prepare(_ folder: String, force: Bool) throws {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        if fm.fileExists(atPath: folder, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw FormatError(folder, "exists and is not a folder") }
            let entries = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
            if !entries.isEmpty {
                guard force else { throw FormatError(folder, "output folder is not empty (pass --force to replace the small world in it)") }
                for entry in outputFolders + [manifestFile] where entries.contains(entry) {
                    do { try fm.removeItem(atPath: "\(folder)/\(entry)") } catch {
                        throw FormatError("\(folder)/\(entry)", "cannot remove: \((error as NSError).localizedDescription)")
                    }
                }
            }
        } else {
            let parent = URL(fileURLWithPath: folder).deletingLastPathComponent().path
            guard fm.fileExists(atPath: parent, isDirectory: &isFolder), isFolder.boolValue else {
                throw FormatError(folder, "parent folder '\(parent)' does not exist")
            }
        }
        for sub in [""] + outputFolders { try AtomicFile.createFolder("\(folder)/\(sub)") }
    }
}

/// A problem with what `lorweb synth` was asked to do.
public struct SmallWorldError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
