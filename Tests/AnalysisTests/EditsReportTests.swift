import Foundation
import Testing
import Formats
@testable import Analysis
@testable import Pipeline

// The report's edits: which rows show, and the metrics per group and per family kind.

private func result(_ task: String, group: String, psnr: Double, identity: Double) -> EvalResult {
    let picture = Image(width: 2, height: 2, color: [0, 0, 0])
    func scores(_ p: Double) -> EditScores { EditScores(psnr: p, ssim: 1, preservationPSNR: nil, editPSNR: nil, changedFraction: 0) }
    return EvalResult(triplet: EvalTriplet(id: task, task: task, group: group, a: "", aPrime: "", b: "", bPrime: "", prompt: ""),
                      scores: scores(psnr), identity: scores(identity), seamRatio: 1, images: Array(repeating: picture, count: 5))
}

@Test func sampleRowsTakeEachKindsGroupsInTurnWithDifferentTasks() {
    let results = [result("tint(red)", group: "seen", psnr: 20, identity: 18), result("tint(red)", group: "seen", psnr: 20, identity: 18),
                   result("tint(blue)", group: "seen", psnr: 20, identity: 18), result("tint(orange)", group: "unseen_parameter", psnr: 10, identity: 18),
                   result("blur(1)", group: "seen", psnr: 20, identity: 18), result("solarize(96)", group: "unseen_family", psnr: 20, identity: 18)]
    let edits = EditsReport(results: results, kinds: ["color", "color", "color", "color", "style", "color"])
    // Colour: seen, then unseen_parameter, then unseen_family, then seen again (a new task); style's one.
    #expect(edits.samples(perKind: 4) == [0, 3, 5, 2, 4])
    #expect(edits.samples(perKind: 1) == [0, 4])
    let rows = edits.rows
    #expect(rows.map(\.[0]) == ["all", "seen", "unseen_family", "unseen_parameter", "kind: color", "kind: style"])
    // Colour: per task tint(red) +2, tint(blue) +2, tint(orange) -8, solarize +2: mean -0.5 dB, 3 of 4 tasks gain.
    #expect(rows[4] == ["kind: color", "5", "4", "17.50", "18.00", "-0.50", "75%", "1.000"])
}

@Test func interpolationJoinsTheBestEditAndTheBestEditOfAnotherKind() {
    let results = [result("tint(red)", group: "seen", psnr: 20, identity: 18), result("blur(1)", group: "seen", psnr: 19, identity: 18),
                   result("invert", group: "seen", psnr: 30, identity: 18), result("tint(blue)", group: "seen", psnr: 28, identity: 18),
                   result("pixelate(2)", group: "seen", psnr: 21, identity: 18)]
    let ends = EditsReport(results: results, kinds: ["color", "style", "color", "color", "style"]).interpolationEnds()
    #expect(ends?.0.task == "invert" && ends?.1.task == "pixelate(2)")
    // Kinds unknown (a CSV list): the best edit of another task; ties keep the earlier triplet.
    let unknown = EditsReport(results: Array(results.prefix(2)) + [result("tint(red)", group: "seen", psnr: 19, identity: 18)], kinds: ["", "", ""])
    #expect(unknown.interpolationEnds()?.0.task == "tint(red)" && unknown.interpolationEnds()?.1.task == "blur(1)")
    #expect(EditsReport(results: [results[0]], kinds: ["color"]).interpolationEnds() == nil)
}
