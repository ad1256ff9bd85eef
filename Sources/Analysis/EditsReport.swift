import Figures
import Foundation
import Formats
import Pipeline

// What the model does to the report's triplets: each one with ground truth edited from the
// analogy alone and scored by `Evaluation` beside returning b unchanged; sample rows per family
// kind, and the metrics over all of them, per group (split or unseen kind) and per family kind.

public struct EditsReport {
    public let results: [EvalResult]
    /// The family kind of each result's triplet ("" when unknown); compositions as "composition".
    public let kinds: [String]

    /// Edits and scores the `triplets` (from `path`) that have ground truth and are not training
    /// triplets, without prompts, `steps` Euler steps from `seed`; nil when there are none.
    public static func run(_ model: LoRWeBModel, triplets: [LabelledTriplet], path: String, steps: Int, seed: UInt64,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> EditsReport? {
        let scored = triplets.filter { $0.triplet.bPrime != nil && $0.split != "train" }
        guard !scored.isEmpty else { return nil }
        let eval = try EvalTriplet.from(scored, path: path, limitPerTask: nil, prompts: false)
        let results = try Evaluation.run(model, triplets: eval, steps: steps, seed: seed, guidance: 1, progress: progress)
        return EditsReport(results: results, kinds: scored.map { ($0.kind ?? "").contains("+") ? "composition" : $0.kind ?? "" })
    }

    /// Up to `perKind` results of different tasks for every kind, taken in turn from its groups
    /// (seen, each unseen kind) so that each shows; kinds in order of first appearance.
    func samples(perKind: Int) -> [Int] {
        var kindOrder: [String] = [], byKind: [String: [Int]] = [:]
        for (i, k) in kinds.enumerated() {
            if byKind[k] == nil { kindOrder.append(k) }
            byKind[k, default: []].append(i)
        }
        return kindOrder.flatMap { kind -> [Int] in
            var groupOrder: [String] = [], queues: [String: [Int]] = [:]
            for i in byKind[kind]! {
                let g = results[i].triplet.group ?? ""
                if queues[g] == nil { groupOrder.append(g) }
                queues[g, default: []].append(i)
            }
            var picked: [Int] = [], tasks = Set<String>()
            while picked.count < perKind, groupOrder.contains(where: { !queues[$0]!.isEmpty }) {
                for g in groupOrder where picked.count < perKind {
                    while let i = queues[g]!.first {
                        queues[g]!.removeFirst()
                        if tasks.insert(results[i].triplet.task).inserted { picked.append(i); break }
                    }
                }
            }
            return picked
        }
    }

    /// The two analogies the interpolation strips join: the best-edited triplet (largest PSNR gain
    /// over returning b) and the best-edited one of another family kind (else of another task), so
    /// that both ends show an edit the model makes; nil when only one task was scored.
    public func interpolationEnds() -> (EvalTriplet, EvalTriplet)? {
        let gain = results.map { $0.scores.psnr - $0.identity.psnr }
        let ranked = results.indices.sorted { gain[$0] != gain[$1] ? gain[$0] > gain[$1] : $0 < $1 }
        guard let first = ranked.first,
              let second = ranked.first(where: { !kinds[$0].isEmpty && kinds[$0] != kinds[first] })
                ?? ranked.first(where: { results[$0].triplet.task != results[first].triplet.task }) else { return nil }
        return (results[first].triplet, results[second].triplet)
    }

    /// Rows a | a' | b | b' truth | b' ours, each labelled on the left, with the PSNR against the
    /// truth of returning b (under b) and of the edit (under ours).
    public static func figure(_ results: [EvalResult], labels: [String], title: String) throws -> Figure {
        let grid = ImageGrid(results.map { $0.images.map { $0 } },
                             captions: results.map { ["", "", String(format: "%.1f dB", $0.identity.psnr), "", String(format: "%.1f dB", $0.scores.psnr)] },
                             header: ["a", "a'", "b", "b' (truth)", "b' (ours)"], rowLabels: labels, cellSize: 96)
        return try Figure.images(grid, title: title)
    }

    /// The metrics of `results`, by `Evaluation.aggregate`: triplets, tasks, PSNR, returning b's
    /// PSNR, the gain, the share of tasks gaining and the median seam ratio, as table cells.
    static func row(_ name: String, _ results: [EvalResult]) -> [String] {
        let a = Evaluation.aggregate(results)
        func mean(_ key: String, in o: [String: Any] = a) -> String {
            ((o[key] as? [String: Any])?["mean"] as? Double).map { String(format: "%.2f", $0) } ?? "-"
        }
        return [name, "\(a["triplets"]!)", "\(a["tasks"]!)", mean("psnr"), mean("psnr", in: a["identity"] as? [String: Any] ?? [:]),
                mean("psnr_gain_over_identity"), (a["tasks_gaining_share"] as? Double).map { String(format: "%.0f%%", 100 * $0) } ?? "-",
                (a["seam_ratio_median"] as? Double).map { String(format: "%.3f", $0) } ?? "-"]
    }

    /// The metrics' rows: all, per group, per kind.
    var rows: [[String]] {
        let groups = Dictionary(grouping: results.filter { $0.triplet.group != nil }, by: { $0.triplet.group! }).sorted { $0.key < $1.key }
        var kindOrder: [String] = []
        for k in kinds where !k.isEmpty && !kindOrder.contains(k) { kindOrder.append(k) }
        return [Self.row("all", results)] + groups.map { Self.row($0.key, $0.value) }
            + kindOrder.map { k in Self.row("kind: \(k)", results.indices.filter { kinds[$0] == k }.map { results[$0] }) }
    }

    /// Writes eval.json (`Evaluation.report` with `settings`, plus the metrics per kind) and the
    /// sample rows `edits` (PNG + SVG) into `folder`.
    public func write(to folder: String, settings: [String: Any], perKind: Int) throws {
        try AtomicFile.createFolder(folder)
        var report = Evaluation.report(results, settings: settings)
        report["kinds"] = Dictionary(grouping: results.indices.filter { !kinds[$0].isEmpty }, by: { kinds[$0] })
            .mapValues { Evaluation.aggregate($0.map { results[$0] }) }
        report["lorweb_version"] = LorwebVersion.description
        try JSONFile.write(object: report, to: folder + "/eval.json")
        let picked = samples(perKind: perKind)
        let labels = picked.map { i in "\(results[i].triplet.task)\n" + [kinds[i], results[i].triplet.group ?? ""].filter { !$0.isEmpty }.joined(separator: ", ") }
        try Self.figure(picked.map { results[$0] }, labels: labels, title: "Edits from the analogy alone, \(perKind) per family kind")
            .write(stem: folder + "/edits")
    }

    func section(_ page: inout HTMLReport, folder: String, steps: Int) {
        page.heading("Edits and metrics", id: "edits")
        page.paragraph("The report's \(results.count) triplets with ground truth (training triplets left out), edited from the analogy alone "
                       + "(no prompt, \(steps) Euler step\(steps == 1 ? "" : "s")) and scored as <code>lorweb eval</code> scores them: PSNR of b' against the truth, "
                       + "averaged per task and then over tasks, beside returning b unchanged; the share of tasks whose PSNR gains over "
                       + "returning b; the median seam ratio (the step across token seams over the step elsewhere, ours over the truth's; "
                       + "1 = no token grid).")
        page.figure(folder + "/edits.png", caption: "a | a' | b | b' (truth) | b' (ours); PSNR against the truth under b and under ours")
        page.table(["triplets", "count", "tasks", "PSNR (dB)", "returning b (dB)", "gain (dB)", "tasks gaining", "seam ratio"], rows)
        page.files([folder + "/eval.json"])
    }
}
