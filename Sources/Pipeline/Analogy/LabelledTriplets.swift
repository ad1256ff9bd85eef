import Foundation
import Formats
import SmallWorld

// The one reader of "a CSV list or a small-world folder" (`eval --data`, `coeffs --triplets`,
// `report --data`): triplets with what is known of them. A CSV list says what its columns say; a
// small world's manifest also knows every triplet's split, unseen kind and caption.

public struct LabelledTriplet: Equatable, Sendable {
    public var triplet: TripletList.Triplet
    /// The small-world split (train, seen, unseen); nil for a CSV list.
    public var split: String?
    /// Why an unseen small-world triplet is unseen (its family, its combination, ...); nil otherwise.
    public var unseenKind: String?
    /// The small-world caption (the edit in words); nil for a CSV list.
    public var caption: String?
    /// The kind of each step's family joined by "+" as the family is ("color", "object+style");
    /// nil for a CSV list.
    public var kind: String?
    /// The task of each step on its own ("tint(red)", "blur(2)"): a composition's parts; nil for a CSV list.
    public var steps: [String]?

    public init(triplet: TripletList.Triplet, split: String? = nil, unseenKind: String? = nil, caption: String? = nil,
                kind: String? = nil, steps: [String]? = nil) {
        self.triplet = triplet; self.split = split; self.unseenKind = unseenKind; self.caption = caption
        self.kind = kind; self.steps = steps
    }
}

public enum LabelledTriplets {
    /// The triplets of a CSV list (a file; every image checked to open) or of a small-world folder
    /// (its manifest's samples in order, only `split` when given: a split or several joined by
    /// commas, "seen,unseen"). A `split` given for a CSV list
    /// is an error unless `ignoringSplitOfLists`. An empty result is an error naming `path`.
    public static func read(_ path: String, split: String? = nil, ignoringSplitOfLists: Bool = false) throws -> [LabelledTriplet] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw FormatError(path, "no such file or folder") }
        let all: [LabelledTriplet]
        if isFolder.boolValue {
            let world = try SmallWorldDataset(folder: path)
            let splits = try split.map { try Self.splits($0, of: path) }
            let kinds = Dictionary(world.manifest.families.map { ($0.name, $0.kind.rawValue) }, uniquingKeysWith: { a, _ in a })
            all = world.manifest.samples.filter { splits?.contains($0.split) ?? true }.map { s in
                LabelledTriplet(triplet: .init(id: s.name, a: world.path(s.a), aPrime: world.path(s.aPrime), b: world.path(s.b),
                                               bPrime: world.path(s.bPrime), task: s.task, family: s.families.joined(separator: "+")),
                                split: s.split.rawValue, unseenKind: s.unseenKind?.rawValue, caption: s.caption,
                                kind: s.families.map { kinds[$0] ?? "?" }.joined(separator: "+"), steps: s.steps.map(\.id))
            }
        } else {
            guard split == nil || ignoringSplitOfLists else { throw FormatError(path, "--split applies to a small-world folder, not a CSV list") }
            all = try TripletList.read(path).triplets.map { LabelledTriplet(triplet: $0) }
        }
        guard !all.isEmpty else { throw FormatError(path, "holds no triplets" + (split.map { " in split \($0)" } ?? "")) }
        return all
    }

    /// The splits that `text` names ("seen" or "seen,unseen"); an unknown one is an error naming `path`.
    static func splits(_ text: String, of path: String) throws -> Set<Split> {
        Set(try text.split(separator: ",", omittingEmptySubsequences: false).map { name in
            guard let s = Split(rawValue: String(name)) else {
                throw FormatError(path, "no split \(name) (\(Split.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return s
        })
    }

    /// At most `limit` of `triplets`, taken round-robin over tasks (a triplet without a task is a
    /// task of its own) so that every task is represented.
    public static func roundRobin(_ triplets: [LabelledTriplet], limit: Int?) -> [LabelledTriplet] {
        guard let limit, limit < triplets.count else { return triplets }
        var queues: [String: [LabelledTriplet]] = [:], order: [String] = []
        for t in triplets {
            let task = t.triplet.task ?? t.triplet.id
            if queues[task] == nil { order.append(task) }
            queues[task, default: []].append(t)
        }
        var picked: [LabelledTriplet] = [], round = 0
        while picked.count < limit {
            for task in order where round < queues[task]!.count && picked.count < limit { picked.append(queues[task]![round]) }
            round += 1
        }
        return picked
    }
}
