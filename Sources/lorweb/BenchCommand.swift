import ArgumentParser
import CBLAS
import Formats
import Foundation
import Models
import Tensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks; numbers are meaningful only from a release build with OPENBLAS_CORETYPE unset.",
        subcommands: [BenchOps.self, BenchModel.self, BenchTrainStep.self, BenchEdit.self, BenchCLIP.self, BenchAnalysis.self])
}

/// One timed case: our op against raw `cblas_sgemm` on the same shapes in the same run.
struct BenchCase: Encodable {
    let name: String
    let flops: Double
    let medianMs: Double
    let gflopPerS: Double
    let rawSgemmMs: Double?
    let rawSgemmGflopPerS: Double?
    /// ours / raw sgemm throughput (1.0 = no overhead over the bare BLAS call).
    let ratio: Double?

    enum CodingKeys: String, CodingKey {
        case name, flops, medianMs = "median_ms", gflopPerS = "gflop_per_s", rawSgemmMs = "raw_sgemm_ms"
        case rawSgemmGflopPerS = "raw_sgemm_gflop_per_s", ratio
    }
}

/// Median wall time of `body` in milliseconds, after one warm-up call.
func medianMs(reps: Int, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<reps {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    return times.sorted()[times.count / 2]
}

struct BenchOps: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "GFLOP/s of linear, attention and matmul at the small model's shapes and at 1024^3, beside raw cblas_sgemm.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Timed repetitions per case (median is reported).") var reps = 20

    func execute() throws {
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1") }
        var rng = RNG(seed: 0)
        var cases: [BenchCase] = []

        // The small preset: batch 16 x 144 tokens (16 text + 64 target + 64 context), hidden 256
        // (its heads x head width), MLP 1024.
        // All of our cases run before any raw sgemm: OpenBLAS's own worker threads keep spinning
        // for a while after a threaded call and would steal the cores from the next measurement.
        let rows = 16 * 144
        let linears = [("linear 256->256", 256, 256), ("linear mlp 256->1024", 256, 1024),
                       ("linear mlp 1024->256", 1024, 256), ("linear proj_out 1280->256", 1280, 256)]
        var ours: [(String, Double, Double)] = []
        for (name, inF, outF) in linears {
            let x = rng.normal([16, 144, inF]), w = rng.normal([outF, inF]), b = rng.normal([outF])
            ours.append((name + " [2304 rows]", 2.0 * Double(rows * inF * outF), medianMs(reps: reps) { _ = withNoGrad { x.linear(w, b) } }))
        }
        let (q, k, v) = (rng.normal([16, 144, 256]), rng.normal([16, 144, 256]), rng.normal([16, 144, 256]))
        let (heads, headDim) = (FluxConfig.small.numAttentionHeads, FluxConfig.small.attentionHeadDim)
        let attnFlops = 2 * 2.0 * Double(16 * heads * 144 * 144 * headDim)
        let attn = medianMs(reps: reps) { _ = withNoGrad { scaledDotProductAttention(q, k, v, heads: heads) } }
        let a = rng.normal([1024, 1024]), bm = rng.normal([1024, 1024])
        let big = medianMs(reps: max(3, reps / 4)) { _ = withNoGrad { a.matmul(bm) } }

        for ((name, flops, ms), (_, inF, outF)) in zip(ours, linears) {
            cases.append(entry(name, flops, ms, rawSgemm(m: rows, n: outF, k: inF, transB: true, reps: reps)))
        }
        cases.append(entry("attention 16x\(heads) heads, 144x144x\(headDim)", attnFlops, attn, rawAttention(reps: reps)))
        cases.append(entry("matmul 1024^3", 2.0 * 1024 * 1024 * 1024, big,
                           rawSgemm(m: 1024, n: 1024, k: 1024, transB: false, reps: max(3, reps / 4))))

        let small = cases.filter { $0.name.hasPrefix("linear") }
        let totalMs = small.map(\.medianMs).reduce(0, +), totalFlops = small.map(\.flops).reduce(0, +)
        if json {
            struct Report: Encodable {
                let benchmark = "ops", lorweb_version = LorwebVersion.description
                let threads: Int, blas: String, median_ms: Double, gflop_per_s: Double, cases: [BenchCase]
            }
            let report = Report(threads: Runtime.threads, blas: Runtime.blasConfig, median_ms: totalMs,
                                gflop_per_s: totalFlops / totalMs / 1e6, cases: cases)
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
            return
        }
        print("OpenBLAS: \(Runtime.blasConfig)   threads: \(Runtime.threads)")
        print("case".padding(toLength: 36, withPad: " ", startingAt: 0) + "    ms   GFLOP/s   raw sgemm GFLOP/s   ours/raw")
        for c in cases {
            let raw = c.rawSgemmGflopPerS.map { String(format: "%9.1f", $0) } ?? "        -"
            let ratio = c.ratio.map { String(format: "%.2f", $0) } ?? "-"
            print(c.name.padding(toLength: 36, withPad: " ", startingAt: 0)
                  + String(format: "%6.3f  %8.1f", c.medianMs, c.gflopPerS) + "           \(raw)       \(ratio)")
        }
    }

    func entry(_ name: String, _ flops: Double, _ ms: Double, _ raw: Double?) -> BenchCase {
        let gf = flops / ms / 1e6
        let rawGf = raw.map { flops / $0 / 1e6 }
        return BenchCase(name: name, flops: flops, medianMs: ms, gflopPerS: gf, rawSgemmMs: raw,
                         rawSgemmGflopPerS: rawGf, ratio: rawGf.map { gf / $0 })
    }

    /// The two products of attention (scores and weighted values) for every (batch, head) as bare
    /// cblas_sgemm calls on contiguous head blocks: attention's ceiling, softmax excluded.
    func rawAttention(reps: Int) -> Double {
        var rng = RNG(seed: 3)
        let (bh, s, d) = (16 * FluxConfig.small.numAttentionHeads, 144, FluxConfig.small.attentionHeadDim)
        let q = rng.normal([bh, s, d]), k = rng.normal([bh, s, d]), v = rng.normal([bh, s, d])
        let scores = Tensor(uninitialized: [s, s]), out = Tensor(uninitialized: [bh, s, d])
        openblas_set_num_threads(Int32(Runtime.threads))
        defer { openblas_set_num_threads(1) }
        return medianMs(reps: reps) {
            for h in 0..<bh {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(s), Int32(s), Int32(d), 1,
                            q.data + h * s * d, Int32(d), k.data + h * s * d, Int32(d), 0, scores.data, Int32(s))
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(s), Int32(d), Int32(s), 1,
                            scores.data, Int32(s), v.data + h * s * d, Int32(d), 0, out.data + h * s * d, Int32(d))
            }
        }
    }

    /// One bare cblas_sgemm on the same shape, with OpenBLAS threading itself over the same
    /// number of threads: the machine's practical ceiling for that product.
    func rawSgemm(m: Int, n: Int, k: Int, transB: Bool, reps: Int) -> Double {
        var rng = RNG(seed: 1)
        let a = rng.normal([m, k]), b = rng.normal(transB ? [n, k] : [k, n]), c = Tensor(uninitialized: [m, n])
        openblas_set_num_threads(Int32(Runtime.threads))
        defer { openblas_set_num_threads(1) }
        return medianMs(reps: reps) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        1, a.data, Int32(k), b.data, Int32(transB ? k : n), 0, c.data, Int32(n))
        }
    }
}

struct BenchModel: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Forward and forward+backward time of the small Flux preset with LoRWeB adapters (batch 16).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: "Timed repetitions (median is reported).") var reps = 5
    @Option(help: "Batch size.") var batch = 16

    func execute() throws {
        guard reps >= 1, batch >= 1 else { throw ValidationError("--reps and --batch must be at least 1") }
        let setup = try SmallFluxSetup(batch: batch, n: 32, r: 4)
        let adapters = setup.adapters
        for (_, p) in adapters.namedParameters { p.requiresGrad = true }
        var rng = RNG(seed: 3)
        let t = rng.uniform([batch]).toArray(), target = rng.normal(setup.x0.shape)
        let fwd = medianMs(reps: reps) { _ = withNoGrad { setup.velocity(setup.x0, t: t) } }
        let step = medianMs(reps: reps) {
            let loss = (setup.velocity(setup.x0, t: t) - target).square().mean()
            loss.backward()
            for (_, p) in adapters.namedParameters { p.grad = nil }
        }
        if json {
            print(#"{"benchmark":"model","lorweb_version":"\#(LorwebVersion.description)","batch":\#(batch),"threads":\#(Runtime.threads),"forward_ms":\#(fwd),"median_ms":\#(step),"adapter_parameters":\#(adapters.parameterCount)}"#)
        } else {
            print("OpenBLAS: \(Runtime.blasConfig)   threads: \(Runtime.threads)")
            print("small preset, batch \(batch), 16 text + 64 target + 64 context tokens, adapters n 32 r 4 on \(adapters.layers.count) layers (\(adapters.parameterCount) parameters)")
            print(String(format: "forward %.1f ms, forward + backward %.1f ms", fwd, step))
        }
    }
}
