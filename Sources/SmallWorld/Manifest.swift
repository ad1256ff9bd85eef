import Formats
import Foundation

// `manifest.json`: everything about a generated small world that is not a picture. Training and
// evaluation read samples, splits and tasks from it; the family table says which edits are
// text-describable (the base editor's curriculum) and which are held out.

/// The manifest of a `lorweb synth` folder. Paths inside are relative to the folder.
public struct SmallWorldManifest: Codable, Sendable, Equatable {
    /// What wrote the folder (`SmallWorldSynth.generator`).
    public var generator: String
    public var seed: UInt64
    /// Side of every picture in pixels (the strip is 3 * size wide).
    public var size: Int
    /// How the splits are built, in words.
    public var splits: String
    public var families: [FamilyRecord]
    public var tasks: [TaskRecord]
    public var samples: [SampleRecord]

    enum CodingKeys: String, CodingKey {
        case generator, seed, size, splits, families, tasks, samples
    }
}

/// A family as the manifest lists it.
public struct FamilyRecord: Codable, Sendable, Equatable {
    public var name: String
    public var kind: FamilyKind
    public var parameter: String?
    public var trainValues: [ParameterValue]
    public var unseenValues: [ParameterValue]
    public var textDescribable: Bool
    public var heldOut: Bool

    enum CodingKeys: String, CodingKey {
        case name, kind, parameter, trainValues = "train_values", unseenValues = "unseen_values"
        case textDescribable = "text_describable", heldOut = "held_out"
    }

    init(_ f: Family) {
        name = f.name; kind = f.kind; parameter = f.parameter
        trainValues = f.trainValues; unseenValues = f.unseenValues
        textDescribable = f.textDescribable; heldOut = f.heldOut
    }
}

/// A planned task: `train` (also used by the `seen` split) or `unseen` with its kind.
public struct TaskRecord: Codable, Sendable, Equatable {
    public var id: String
    public var steps: [TaskStep]
    public var caption: String
    public var textDescribable: Bool
    /// `train` or `unseen`.
    public var split: Split
    public var unseenKind: UnseenKind?

    enum CodingKeys: String, CodingKey {
        case id, steps, caption, textDescribable = "text_describable", split, unseenKind = "unseen_kind"
    }

    init(_ task: EditTask, split: Split, unseenKind: UnseenKind?) {
        id = task.id; steps = task.steps; caption = task.caption
        textDescribable = task.textDescribable; self.split = split; self.unseenKind = unseenKind
    }

    /// The task itself, to apply to new scenes.
    public var task: EditTask { EditTask(steps) }
}

/// One analogy triplet a : a' :: b : b' and where its files are.
public struct SampleRecord: Codable, Sendable, Equatable {
    public var name: String
    public var task: String
    public var families: [String]
    /// The task's steps: family, parameter name and value.
    public var steps: [TaskStep]
    public var split: Split
    public var unseenKind: UnseenKind?
    public var caption: String
    public var textDescribable: Bool
    public var aCategory: SceneCategory
    public var bCategory: SceneCategory
    public var a: String
    public var aPrime: String
    public var b: String
    public var bPrime: String
    /// The 1x3 strip [a | a' | b] (`control/NAME.png`).
    public var control: String
    /// b' alone (`target/NAME.png`) and the caption (`target/NAME.txt`).
    public var target: String
    public var captionFile: String
    /// White where b' differs from b.
    public var mask: String

    enum CodingKeys: String, CodingKey {
        case name, task, families, steps, split, unseenKind = "unseen_kind", caption, textDescribable = "text_describable"
        case aCategory = "a_category", bCategory = "b_category", a, aPrime = "a_prime", b, bPrime = "b_prime"
        case control, target, captionFile = "caption_file", mask
    }
}

/// A generated small world on disk: the manifest plus access to its pictures.
public struct SmallWorldDataset: Sendable {
    public let folder: String
    public let manifest: SmallWorldManifest

    /// Reads `folder/manifest.json`.
    public init(folder: String) throws {
        let path = "\(folder)/\(SmallWorldSynth.manifestFile)"
        let data: Data
        do { data = try readFileBytes(path) } catch let error as FormatError {
            throw FormatError(path, "cannot read the manifest: \(error.problem)")
        }
        do { manifest = try JSONDecoder().decode(SmallWorldManifest.self, from: data) } catch {
            throw FormatError(path, "not a small-world manifest: \(error)")
        }
        self.folder = folder
    }

    /// The samples of `split`, optionally only those of one unseen kind, in manifest order.
    public func samples(_ split: Split, unseenKind: UnseenKind? = nil) -> [SampleRecord] {
        manifest.samples.filter { $0.split == split && (unseenKind == nil || $0.unseenKind == unseenKind) }
    }

    /// The absolute path of a manifest path.
    public func path(_ relative: String) -> String { "\(folder)/\(relative)" }

    /// The four pictures of a sample.
    public func images(_ sample: SampleRecord) throws -> (a: Image, aPrime: Image, b: Image, bPrime: Image) {
        (try Image.read(path(sample.a)), try Image.read(path(sample.aPrime)),
         try Image.read(path(sample.b)), try Image.read(path(sample.bPrime)))
    }
}
