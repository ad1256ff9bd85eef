import Foundation
import Testing
import Formats
import Tensor
import TestSupport

// End to end through the built `lorweb` binary on a tiny run made here: a small world of 50
// triplets, a base editor trained for one step, adapters (n 4, r 2) trained for one step on the
// shipped encoder. Checks what the analysis commands write, not what an untrained model says.

private let repository = Fixtures.repository

@discardableResult
private func succeeds(_ arguments: String..., in folder: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Run {
    let run = try CLI.run(arguments, in: folder)
    #expect(run.status == 0, "lorweb \(arguments.joined(separator: " ")): \(run.stderr)", sourceLocation: sourceLocation)
    return run
}

private func pngSize(_ path: String) throws -> (Int, Int) {
    let image = try Image.read(path)
    return (image.width, image.height)
}

@Test
func analysisCommandsEndToEndOnATinyRun() throws {
    let dir = try scratchFolder("analysis")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try succeeds("synth", "--out", "sw", "--train", "30", "--eval", "10", in: dir)
    try succeeds("pretrain-base", "--data", "sw", "--out", "b", "--steps", "1", "--batch", "2", "--eval", "0", in: dir)
    try succeeds("train", "--data", "sw", "--out", "run", "--steps", "1", "--batch", "2", "--loras", "4", "--rank", "2", "--keys-dim", "16",
                 "--base", "b/base", "--encoder", repository.appendingPathComponent("models/small-world/encoder").path, in: dir)

    // basis and svd write their figures beside the data.
    try succeeds("basis", "--model", "run", "--out", "basis", in: dir)
    for stem in ["key_similarity", "key_similarity_per_layer", "element_norms", "element_spectra"] {
        #expect(try pngSize("\(dir)/basis/\(stem).png").0 > 100)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/basis/\(stem).svg"))
    }
    try succeeds("svd", "--model", "run", "--out", "svd", in: dir)
    #expect(try pngSize("\(dir)/svd/singular_values.png") == (680, 440))

    // Two analogies on the same b, as a CSV list.
    let i = "sw/images"
    try "id,a,a_prime,b,task\nfirst,\(i)/seen_000000_a.png,\(i)/seen_000000_ap.png,\(i)/seen_000000_b.png,t0\nsecond,\(i)/seen_000005_a.png,\(i)/seen_000005_ap.png,\(i)/seen_000000_b.png,t5\n"
        .write(toFile: dir + "/pairs-list.csv", atomically: true, encoding: .utf8)
    try succeeds("coeffs", "--model", "run", "--triplets", "pairs-list.csv", "--out", "pairs.npy", in: dir)
    let pairs = try NPY.read(dir + "/pairs.npy")
    #expect(pairs.shape == [2, 52, 4])
    #expect(try String(contentsOfFile: dir + "/pairs.csv").contains("0,first,t0,"))

    // export-lora of an analogy embeds it with the run's own encoder (no --clip): the same file as
    // exporting that analogy's coefficients from coeffs.
    try succeeds("export-lora", "--model", "run", "--a", "\(i)/seen_000000_a.png", "--a-prime", "\(i)/seen_000000_ap.png",
                 "--b", "\(i)/seen_000000_b.png", "--out", "analogy.safetensors", in: dir)
    try NPY.write(pairs.sliced(axis: 0, 0..<1).reshaped([52, 4]), to: dir + "/first.npy")
    try succeeds("export-lora", "--model", "run", "--coeffs", "first.npy", "--out", "first.safetensors", in: dir)
    let viaAnalogy = try SafetensorsFile(path: dir + "/analogy.safetensors"), viaCoeffs = try SafetensorsFile(path: dir + "/first.safetensors")
    for name in ["transformer.transformer_blocks.0.attn.to_q.lora_B.weight", "transformer.single_transformer_blocks.3.proj_out.lora_A.weight"] {
        #expect(zip(try viaAnalogy.tensor(name).toArray(), try viaCoeffs.tensor(name).toArray()).allSatisfy { abs($0 - $1) < 1e-6 }, "\(name)")
    }

    // Interpolation: the end frames' coefficients are the two analogies' own, in both spaces.
    for space in ["coeffs", "query"] {
        try succeeds("interpolate", "--model", "run", "--from", "\(i)/seen_000000_a.png,\(i)/seen_000000_ap.png",
                     "--to", "\(i)/seen_000005_a.png,\(i)/seen_000005_ap.png", "--b", "\(i)/seen_000000_b.png",
                     "--steps", "3", "--sample-steps", "1", "--space", space, "--out", "strip_\(space).png", in: dir)
        let path = try NPY.read("\(dir)/strip_\(space).coeffs.npy")
        #expect(path.shape == [3, 52, 4])
        for (frame, row) in [(0, 0), (2, 1)] {
            let a = path.sliced(axis: 0, frame..<(frame + 1)).toArray(), b = pairs.sliced(axis: 0, row..<(row + 1)).toArray()
            #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 }, "\(space) frame \(frame)")
        }
        let (w, h) = try pngSize("\(dir)/strip_\(space).png")
        #expect(w > 3 * 96 && h > 2 * 96)
    }

    // coeffs over a small world's split, then PCA with labelled scatter plots.
    try succeeds("coeffs", "--model", "run", "--triplets", "sw", "--split", "seen", "--out", "seen.npy", in: dir)
    #expect(try NPY.read(dir + "/seen.npy").shape == [10, 52, 4])
    try succeeds("pca", "--model", "run", "--coeffs", "seen.npy", "--out", "pca", "--components", "3", in: dir)
    #expect(try NPY.read(dir + "/pca/pooled_scores.npy").shape == [10, 3])
    #expect(try NPY.read(dir + "/pca/layer_variance.npy").shape == [52, 4])
    #expect(try pngSize("\(dir)/pca/scatter_pooled_kind.png") == (760, 500))
    #expect(FileManager.default.fileExists(atPath: "\(dir)/pca/scatter_raw_family.svg"))

    // The report: every file the page references exists.
    try succeeds("report", "--model", "run", "--data", "sw", "--out", "report", "--limit", "8", "--frames", "2", "--sample-steps", "1", in: dir)
    let html = try String(contentsOfFile: dir + "/report/index.html")
    let references = try NSRegularExpression(pattern: "(?:src|href)=\"([^\"#]+)\"").matches(in: html, range: NSRange(html.startIndex..., in: html))
        .map { String(html[Range($0.range(at: 1), in: html)!]) }
    #expect(references.count > 20)
    for r in references { #expect(FileManager.default.fileExists(atPath: dir + "/report/" + r), "report references missing \(r)") }
    // The structure measurements and the scored edits, on the page and beside it.
    #expect(html.contains("id=\"structure\"") && html.contains("id=\"edits\"") && html.contains("<td>all</td><td>8</td>"))
    let structure = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report/structure/structure.json"))) as! [String: Any]
    #expect((structure["knn"] as! [[String: Any]]).map { $0["label"] as! String } == ["task", "task", "family", "family"])
    #expect((structure["interpolation"] as! [Any]).count == 2)

    // Bad input: one line on stderr, exit 1.
    let bad = try CLI.run(["pca", "--model", "run", "--coeffs", "pairs.csv", "--out", "x"], in: dir)
    #expect(bad.status == 1 && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
}

/// `coeffs --clip` on an adapter file in the authors' layout (transformer.-prefixed keys, its
/// config.yaml beside it) with a Hugging Face CLIP folder, against transformers' CLIP and the
/// release's formula (tools/fixtures/make_release_coeffs_fixture.py).
@Test
func coeffsWithClipOnTheReleaseLayoutMatchTransformers() throws {
    let dir = try scratchFolder("release-coeffs")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fixture = repository.appendingPathComponent("Tests/Fixtures/release-coeffs").path
    let examples = repository.appendingPathComponent("models/small-world/examples").path
    let ids = try String(contentsOfFile: fixture + "/triplets.txt", encoding: .utf8).split(separator: "\n").map(String.init)
    let rows = ids.map { "\($0),\(examples)/\($0)_a.png,\(examples)/\($0)_ap.png,\(examples)/\($0)_b.png" }
    try (["id,a,a_prime,b"] + rows).joined(separator: "\n").write(toFile: dir + "/triplets.csv", atomically: true, encoding: .utf8)
    try succeeds("coeffs", "--model", repository.appendingPathComponent("Tests/Fixtures/formats/adapter_tiny.safetensors").path,
                 "--clip", fixture + "/clip", "--triplets", "triplets.csv", "--out", "c.npy", in: dir)
    let ours = try NPY.read(dir + "/c.npy")                                  // [T, L, n]
    let layers = try String(contentsOfFile: dir + "/c.layers.txt", encoding: .utf8).split(separator: "\n").map(String.init)
    let expected = try SafetensorsFile(path: fixture + "/expected.safetensors")
    #expect(ours.shape == [ids.count, 3, 4] && layers.count == 3)
    for (l, layer) in layers.enumerated() {
        let truth = try expected.tensor(layer)                               // [T, n]
        for t in 0..<ids.count {
            for i in 0..<4 {
                #expect(abs(ours[t, l, i] - truth[t, i]) < 1e-5, "\(layer) triplet \(ids[t]) element \(i)")
            }
        }
        // The triplets' coefficients differ by far more than the tolerance, so a wrong query fails.
        #expect(abs(truth[0, 0] - truth[1, 0]) > 1e-3 || abs(truth[0, 3] - truth[1, 3]) > 1e-3)
    }
}
