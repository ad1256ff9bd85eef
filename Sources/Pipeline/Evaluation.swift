import Foundation
import Formats
import Models
import Tensor

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

    /// The triplets of a small-world split (first `limit` per task when given), prompted with
    /// their captions as the paper's evaluation prompts its models.
    public static func smallWorld(_ data: SmallWorldDataset, split: Split, limitPerTask: Int?, prompts: Bool) -> [EvalTriplet] {
        var perTask: [String: Int] = [:]
        return data.samples(split).compactMap { s in
            perTask[s.task, default: 0] += 1
            if let limitPerTask, perTask[s.task]! > limitPerTask { return nil }
            return EvalTriplet(id: s.name, task: s.task, group: s.unseenKind.map { "unseen_" + $0.rawValue } ?? s.split.rawValue,
                               a: data.path(s.a), aPrime: data.path(s.aPrime), b: data.path(s.b), bPrime: data.path(s.bPrime),
                               prompt: prompts ? s.caption : "")
        }
    }

    /// The triplets of a CSV list that has ground truth (`b_prime`); the task defaults to the id.
    public static func list(_ list: TripletList, path: String) throws -> [EvalTriplet] {
        try list.triplets.map { t in
            guard let truth = t.bPrime else { throw FormatError(path, "triplet \(t.id) has no b_prime (ground truth) to score against") }
            return EvalTriplet(id: t.id, task: t.task ?? t.id, group: t.family, a: t.a, aPrime: t.aPrime, b: t.b, bPrime: truth, prompt: "")
        }
    }
}

public struct EvalResult: Sendable {
    public var triplet: EvalTriplet
    public var scores: EditScores
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
            for ((t, im), e) in zip(chunk, edits) {
                let truth = im.truth.width == im.b.width && im.truth.height == im.b.height ? im.truth : im.truth.resized(width: im.b.width, height: im.b.height)
                results.append(EvalResult(triplet: t, scores: EditMetrics.score(made: e.bPrime, truth: truth, b: im.b),
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

    /// Mean of each score per task, then mean and standard deviation over tasks.
    public static func aggregate(_ results: [EvalResult]) -> [String: Any] {
        let byTask = Dictionary(grouping: results, by: \.triplet.task)
        let metrics: [(String, (EditScores) -> Double?)] = [
            ("psnr", { $0.psnr }), ("ssim", { $0.ssim }), ("preservation_psnr", { $0.preservationPSNR }), ("edit_psnr", { $0.editPSNR }),
        ]
        var out: [String: Any] = ["triplets": results.count, "tasks": byTask.count]
        for (name, value) in metrics {
            let taskMeans = byTask.keys.sorted().compactMap { task -> Double? in
                let values = byTask[task]!.compactMap { value($0.scores) }
                return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
            }
            guard !taskMeans.isEmpty else { continue }
            let mean = taskMeans.reduce(0, +) / Double(taskMeans.count)
            let variance = taskMeans.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(taskMeans.count)
            out[name] = ["mean": mean, "std_over_tasks": variance.squareRoot(), "tasks": taskMeans.count]
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
            return row
        }
        return report
    }

    /// Sample rows (a | a' | b | b' truth | b' ours), each picture scaled by `zoom` (nearest),
    /// with a 2-pixel white gutter.
    public static func sampleRows(_ results: [EvalResult], rows: Int = 8, zoom: Int = 3) -> Image? {
        let picked = Array(results.prefix(rows))
        guard let first = picked.first?.images.first else { return nil }
        let cw = first.width * zoom, ch = first.height * zoom, gutter = 2
        var sheet = Image(width: 5 * cw + 6 * gutter, height: picked.count * ch + (picked.count + 1) * gutter, color: [255, 255, 255])
        for (r, result) in picked.enumerated() {
            for (c, im) in result.images.enumerated() {
                sheet.paste(im.resized(width: cw, height: ch, filter: .nearest), x: gutter + c * (cw + gutter), y: gutter + r * (ch + gutter))
            }
        }
        return sheet
    }
}
