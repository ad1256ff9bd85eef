import Foundation
import Formats
import Models
import Tensor
import SmallWorld

// `lorweb eval`: generate b' for every triplet with ground truth, score it, and aggregate as
// the paper does: first per task, then over tasks (so a task with many triplets weighs as much
// as one with few).

public struct EvalTriplet: Sendable {
    public var id: String
    public var task: String
    /// The group the triplet is reported under as well (e.g. the unseen kind), if any.
    public var group: String?
    public var a: String, aPrime: String, b: String, bPrime: String
    public var prompt: String

    public init(id: String, task: String, group: String?, a: String, aPrime: String, b: String, bPrime: String, prompt: String) {
        self.id = id; self.task = task; self.group = group
        self.a = a; self.aPrime = aPrime; self.b = b; self.bPrime = bPrime; self.prompt = prompt
    }

    /// The triplets of a CSV list with ground truth (`b_prime`; the task defaults to the id, the
    /// family is the group) or of a small world (first `limitPerTask` per task when given, grouped
    /// by unseen kind, else split, and prompted with their captions when `prompts`, as the paper's
    /// evaluation prompts its models), as `LabelledTriplets.read` gives them; `path` names the list.
    public static func from(_ triplets: [LabelledTriplet], path: String, limitPerTask: Int?, prompts: Bool) throws -> [EvalTriplet] {
        var perTask: [String: Int] = [:]
        return try triplets.compactMap { l in
            let t = l.triplet
            guard let split = l.split else {
                guard let truth = t.bPrime else { throw FormatError(path, "triplet \(t.id) has no b_prime (ground truth) to score against") }
                return EvalTriplet(id: t.id, task: t.task ?? t.id, group: t.family, a: t.a, aPrime: t.aPrime, b: t.b, bPrime: truth, prompt: "")
            }
            let task = t.task ?? t.id
            perTask[task, default: 0] += 1
            if let limitPerTask, perTask[task]! > limitPerTask { return nil }
            return EvalTriplet(id: t.id, task: task, group: l.unseenKind.map { "unseen_" + $0 } ?? split,
                               a: t.a, aPrime: t.aPrime, b: t.b, bPrime: t.bPrime ?? "", prompt: prompts ? l.caption ?? "" : "")
        }
    }
}

public struct EvalResult: Sendable {
    public var triplet: EvalTriplet
    public var scores: EditScores
    /// The scores of returning b unchanged: the do-nothing baseline every editor must beat.
    public var identity: EditScores
    /// `EditMetrics.seamStepRatio` of the generated b' (in the grid's token layout) over the
    /// truth's: above 1 when the output shows the token grid.
    public var seamRatio: Double?
    /// The pictures of the sample row: a, a', b, truth, ours.
    public var images: [Image]
}

public enum Evaluation {
    /// Edits every triplet (batches of `batch` of one grid size) and scores it. With
    /// `adapters` false the base model edits alone (query off), the paper's "no adapter" row.
    public static func run(_ model: LoRWeBModel, triplets: [EvalTriplet], steps: Int, seed: UInt64, guidance: Float,
                           adapters: Bool = true, batch: Int = 8, progress: (Int, Int) -> Void = { _, _ in }) throws -> [EvalResult]
    {
        var results: [EvalResult] = []
        var start = 0
        while start < triplets.count {
            let first = try load(triplets[start])
            var chunk = [(triplets[start], first)]
            while chunk.count < batch, start + chunk.count < triplets.count {
                let next = try load(triplets[start + chunk.count])
                guard next.a.width == first.a.width && next.a.height == first.a.height else { break }
                chunk.append((triplets[start + chunk.count], next))
            }
            let edits = try model.edit(chunk.map { ($0.1.a, $0.1.aPrime, $0.1.b) }, prompts: chunk.map(\.0.prompt), steps: steps,
                                       seed: seed, guidance: guidance, firstIndex: start, adapters: adapters)
            let cell = model.codec.tokenPixels
            for ((t, im), e) in zip(chunk, edits) {
                let truth = im.truth.width == im.b.width && im.truth.height == im.b.height ? im.truth : im.truth.resized(width: im.b.width, height: im.b.height)
                let quadrant = AnalogyGrid.bottomRight(e.grid)
                let seam = EditMetrics.seamStepRatio(quadrant, cell: cell).flatMap { made in
                    EditMetrics.seamStepRatio(truth.resized(width: quadrant.width, height: quadrant.height), cell: cell)
                        .flatMap { $0 > 0 ? made / $0 : nil }
                }
                results.append(EvalResult(triplet: t, scores: EditMetrics.score(made: e.bPrime, truth: truth, b: im.b),
                                          identity: EditMetrics.score(made: im.b, truth: truth, b: im.b), seamRatio: seam,
                                          images: [im.a, im.aPrime, im.b, truth, e.bPrime]))
            }
            start += chunk.count
            progress(start, triplets.count)
        }
        return results
    }

    static func load(_ t: EvalTriplet) throws -> (a: Image, aPrime: Image, b: Image, truth: Image) {
        let images = try AnalogyQuery.read(a: t.a, aPrime: t.aPrime, b: t.b)
        return (images.a.rgb(), images.aPrime.rgb(), images.b.rgb(), try Image.read(t.bPrime).rgb())
    }

    /// Mean of each score per task, then mean and standard deviation over tasks; the same for
    /// returning b unchanged (`identity`), the per-task gain over it and the share of tasks that
    /// gain, and the median seam ratio over triplets.
    public static func aggregate(_ results: [EvalResult]) -> [String: Any] {
        let byTask = Dictionary(grouping: results, by: \.triplet.task)
        let tasks = byTask.keys.sorted()
        func taskMeans(_ value: (EvalResult) -> Double?) -> [Double?] {
            tasks.map { task in
                let values = byTask[task]!.compactMap(value)
                return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
            }
        }
        func summary(_ means: [Double?]) -> [String: Any]? {
            let m = means.compactMap { $0 }
            guard !m.isEmpty else { return nil }
            let mean = m.reduce(0, +) / Double(m.count)
            let variance = m.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(m.count)
            return ["mean": mean, "std_over_tasks": variance.squareRoot(), "tasks": m.count]
        }
        let metrics: [(String, (EditScores) -> Double?)] = [
            ("psnr", { $0.psnr }), ("ssim", { $0.ssim }), ("preservation_psnr", { $0.preservationPSNR }), ("edit_psnr", { $0.editPSNR }),
        ]
        var out: [String: Any] = ["triplets": results.count, "tasks": byTask.count]
        var identity: [String: Any] = [:]
        for (name, value) in metrics {
            out[name] = summary(taskMeans { value($0.scores) })
            identity[name] = summary(taskMeans { value($0.identity) })
        }
        out["identity"] = identity
        let ours = taskMeans { $0.scores.psnr }, theirs = taskMeans { $0.identity.psnr }
        let gains = zip(ours, theirs).map { a, b in a.flatMap { a in b.map { a - $0 } } }
        out["psnr_gain_over_identity"] = summary(gains)
        let gained = gains.compactMap { $0 }
        if !gained.isEmpty { out["tasks_gaining_share"] = Double(gained.filter { $0 > 0 }.count) / Double(gained.count) }
        let seams = results.compactMap(\.seamRatio).sorted()
        if !seams.isEmpty {
            out["seam_ratio_median"] = seams.count % 2 == 1 ? seams[seams.count / 2] : (seams[seams.count / 2 - 1] + seams[seams.count / 2]) / 2
        }
        return out
    }

    /// The JSON report: overall, per group, per task, and per triplet.
    public static func report(_ results: [EvalResult], settings: [String: Any]) -> [String: Any] {
        var report = settings
        report["overall"] = aggregate(results)
        var groups: [String: Any] = [:]
        for (g, rs) in Dictionary(grouping: results.filter { $0.triplet.group != nil }, by: { $0.triplet.group! }) { groups[g] = aggregate(rs) }
        report["groups"] = groups
        report["triplets"] = results.map { r -> [String: Any] in
            var row: [String: Any] = ["id": r.triplet.id, "task": r.triplet.task, "psnr": r.scores.psnr, "ssim": r.scores.ssim,
                                      "changed_fraction": r.scores.changedFraction]
            if let g = r.triplet.group { row["group"] = g }
            if let p = r.scores.preservationPSNR { row["preservation_psnr"] = p }
            if let e = r.scores.editPSNR { row["edit_psnr"] = e }
            row["identity_psnr"] = r.identity.psnr
            if let seam = r.seamRatio { row["seam_ratio"] = seam }
            return row
        }
        return report
    }
}
