import Tensor

// Tasks and splits. A task is one family with a fixed parameter, or a composition of two; a
// triplet applies the same task to two scenes. The splits are what the generalisation claim is
// measured on: `train` tasks are seen in training, `seen` holds new triplets of those tasks, and
// `unseen` holds tasks training never shows, of three kinds (new parameter values, new
// compositions, held-out families).

/// One step of a task: a family and its parameter value (nil for families without a parameter).
public struct TaskStep: Hashable, Codable, Sendable {
    public let family: String
    /// The family's parameter name, repeated so the manifest reads on its own.
    public let parameter: String?
    public let value: ParameterValue?

    /// A step of `family`; the parameter name comes from the family table.
    public init(family: String, value: ParameterValue?) {
        self.family = family
        self.parameter = Families.named(family)?.parameter
        self.value = value
    }

    /// "hue_rotate(60)", or just "invert" without a parameter.
    public var id: String { value.map { "\(family)(\($0))" } ?? family }

    var resolved: Family {
        guard let f = Families.named(family) else { preconditionFailure("no family '\(family)'") }
        return f
    }
}

/// A task: one step, or two composed (scene edits first, then pixel filters, each group in step order).
public struct EditTask: Hashable, Codable, Sendable {
    public let steps: [TaskStep]

    public init(_ steps: [TaskStep]) {
        precondition(!steps.isEmpty, "a task needs at least one step")
        self.steps = steps
    }

    /// Stable, readable id, e.g. "recolor_object(red)+blur(2)".
    public var id: String { steps.map(\.id).joined(separator: "+") }
    public var families: [String] { steps.map(\.family) }
    /// The edit instruction: the steps' captions joined with "and".
    public var caption: String { steps.map { $0.resolved.caption($0.value) }.joined(separator: " and ") }
    /// True when every step's family is text-describable.
    public var textDescribable: Bool { steps.allSatisfy { $0.resolved.textDescribable } }

    /// The edited picture of `scene` at `size` x `size`. The mask is the subject of the edited
    /// description, before any pixel filter.
    public func apply(to scene: Scene, size: Int) -> RenderedScene {
        var edited = scene
        for step in steps {
            if case .scene(let edit) = step.resolved.effect { edit(&edited, step.value) }
        }
        let drawn = edited.render(size: size)
        var image = drawn.image
        for step in steps {
            if case .filter(let filter) = step.resolved.effect { filter(&image, step.value) }
        }
        return RenderedScene(image: image, objectMask: drawn.objectMask)
    }
}

/// Which part of the data a triplet belongs to.
public enum Split: String, Codable, CaseIterable, Sendable {
    /// Triplets of training tasks, for training.
    case train
    /// New triplets of training tasks, for evaluation.
    case seen
    /// Triplets of tasks that training never shows.
    case unseen
}

/// Why an unseen task is unseen.
public enum UnseenKind: String, Codable, CaseIterable, Sendable {
    /// A training family with a parameter value training never uses.
    case parameter
    /// Two training families that training never composes.
    case composition
    /// A family held out of training altogether.
    case family
}

/// The tasks of every split, fixed by a seed.
public struct TaskPlan: Sendable {
    /// Every value of every non-held-out family, plus `trainCompositions` compositions.
    public let train: [EditTask]
    /// Unseen tasks by kind.
    public let unseen: [UnseenKind: [EditTask]]

    /// Plans the splits. Single-family tasks and held-out families come from the family table;
    /// the seed only picks which pairs of training families are composed in training and which
    /// are kept for `unseen`, and their parameter values. Composed families are always of
    /// different kinds, so neither step is a variant of the other, and a pair is skipped when
    /// one step hides the other.
    public init(seed: UInt64, trainCompositions: Int = 24, unseenCompositions: Int = 16) {
        let trainable = Families.all.filter { !$0.heldOut }
        var singles: [EditTask] = []
        var newValues: [EditTask] = []
        for family in trainable {
            let values: [ParameterValue?] = family.parameter == nil ? [nil] : family.trainValues
            singles += values.map { EditTask([TaskStep(family: family.name, value: $0)]) }
            newValues += family.unseenValues.map { EditTask([TaskStep(family: family.name, value: $0)]) }
        }
        let heldOut = Families.all.filter(\.heldOut).flatMap { family -> [EditTask] in
            let values: [ParameterValue?] = family.parameter == nil ? [nil] : family.trainValues
            return values.map { EditTask([TaskStep(family: family.name, value: $0)]) }
        }

        // Every unordered pair of trainable families of different kinds, in table order; the
        // seed's permutation deals out the first ones to training, the next ones to unseen.
        var pairs: [(Family, Family)] = []
        for i in trainable.indices {
            for j in trainable.indices where j > i && trainable[i].kind != trainable[j].kind {
                pairs.append((trainable[i], trainable[j]))
            }
        }
        var rng = RNG(seed: seed).fork(1)
        var composed: [EditTask] = []
        for index in rng.permutation(pairs.count) where composed.count < trainCompositions + unseenCompositions {
            let (first, second) = pairs[index]
            // Scene edits, then style, then colour: a colour change survives a blur that comes
            // before it, but not always one that comes after.
            let steps = [first, second].sorted { Self.rank($0.kind) < Self.rank($1.kind) }.map { family -> TaskStep in
                let value: ParameterValue? = family.parameter == nil ? nil : family.trainValues[rng.int(in: 0..<family.trainValues.count)]
                return TaskStep(family: family.name, value: value)
            }
            if Self.showsBothSteps(EditTask(steps)) { composed.append(EditTask(steps)) }
        }
        precondition(composed.count == trainCompositions + unseenCompositions, "not enough family pairs to compose")
        train = singles + composed.prefix(trainCompositions)
        unseen = [.parameter: newValues, .composition: Array(composed.dropFirst(trainCompositions)), .family: heldOut]
    }

    /// Scenes on which compositions are checked, fixed for every seed.
    private static let probes: [Scene] = (0..<6).map { i in
        var rng = RNG(seed: 0x5CE_0E5).fork(UInt64(i))
        return Scene.random(&rng)
    }

    /// Whether a composition differs from each of its steps alone on all but at most one probe
    /// scene. Pairs where one step hides the other (a hue rotation after a line drawing, which
    /// is black and white) would only be a single family under another name.
    private static func showsBothSteps(_ task: EditTask) -> Bool {
        let misses = probes.filter { scene in
            let both = task.apply(to: scene, size: 32).image
            return task.steps.contains { EditTask([$0]).apply(to: scene, size: 32).image == both }
        }
        return misses.count <= 1
    }

    /// Order of kinds inside a composition.
    private static func rank(_ kind: FamilyKind) -> Int {
        switch kind {
        case .object: return 0
        case .layout: return 1
        case .background: return 2
        case .style: return 3
        case .color: return 4
        }
    }

    /// The task of sample `index` in `split`: training and seen samples cycle through the
    /// training tasks; unseen samples cycle through the three kinds, then through each kind's tasks,
    /// so every kind gets a third of the split.
    public func task(split: Split, index: Int) -> (task: EditTask, unseenKind: UnseenKind?) {
        switch split {
        case .train, .seen:
            return (train[index % train.count], nil)
        case .unseen:
            let kind = UnseenKind.allCases[index % UnseenKind.allCases.count]
            let tasks = unseen[kind]!
            return (tasks[(index / UnseenKind.allCases.count) % tasks.count], kind)
        }
    }
}
