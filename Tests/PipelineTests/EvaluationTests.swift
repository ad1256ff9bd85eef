import Testing
import Formats
@testable import Pipeline
import TestSupport

@Suite struct EvaluationTests {
    /// A smooth ramp ignores any grid (ratio 1); the same ramp with a per-token offset shows it.
    @Test func seamStepRatioSeesTheTokenGrid() throws {
        func picture(_ value: (Int, Int) -> Int) -> Image {
            var pixels: [UInt8] = []
            for y in 0..<32 { for x in 0..<32 { pixels += Array(repeating: UInt8(clamping: value(x, y)), count: 3) } }
            return Image(width: 32, height: 32, channels: 3, pixels: pixels)
        }
        let ramp = picture { x, y in 3 * x + 2 * y }
        let blocky = picture { x, y in 3 * x + 2 * y + ((x / 8 + y / 8) % 2) * 20 }
        #expect(abs(try #require(EditMetrics.seamStepRatio(ramp, cell: 8)) - 1) < 1e-9)
        #expect(try #require(EditMetrics.seamStepRatio(blocky, cell: 8)) > 5)
        #expect(EditMetrics.seamStepRatio(Image(width: 32, height: 32, color: [9, 9, 9]), cell: 8) == nil)
    }

    /// Per task first, then over tasks; the identity row scores b itself; a task gains when its
    /// mean PSNR beats returning b.
    @Test func aggregateReportsTheIdentityRowAndGains() throws {
        func result(_ task: String, psnr: Double, identity: Double, seam: Double) -> EvalResult {
            let s = EditScores(psnr: psnr, ssim: 0.5, preservationPSNR: nil, editPSNR: nil, changedFraction: 0.1)
            var i = s
            i.psnr = identity
            return EvalResult(triplet: EvalTriplet(id: task, task: task, group: nil, a: "", aPrime: "", b: "", bPrime: "", prompt: ""),
                              scores: s, identity: i, seamRatio: seam, images: [])
        }
        let out = Evaluation.aggregate([result("x", psnr: 20, identity: 15, seam: 1.0), result("x", psnr: 22, identity: 15, seam: 1.2),
                                        result("y", psnr: 10, identity: 12, seam: 1.4)])
        #expect((out["psnr"] as! [String: Any])["mean"] as! Double == 15.5)
        #expect(((out["identity"] as! [String: Any])["psnr"] as! [String: Any])["mean"] as! Double == 13.5)
        #expect((out["psnr_gain_over_identity"] as! [String: Any])["mean"] as! Double == 2)
        #expect(out["tasks_gaining_share"] as! Double == 0.5)
        #expect(out["seam_ratio_median"] as! Double == 1.2)
    }
}
