import Analysis
import ArgumentParser
import CBLAS
import Formats
import Foundation
import Models
import Pipeline
import Tensor
import Training

// Whole-step benchmarks, the side of `tools/peer/compare.py` that PyTorch is measured against.
// Every one counts its FLOPs from the list of matrix products the step needs (the same list that
// times raw cblas_sgemm for the machine's ceiling), and reports the step's own peak memory.

/// One matrix-product shape: C[m, n] = op(A) op(B) with inner size k.
struct GemmShape: Hashable, Comparable {
    let m: Int, n: Int, k: Int, transA: Bool, transB: Bool
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    static func < (a: GemmShape, b: GemmShape) -> Bool { (a.m, a.n, a.k, a.transA ? 1 : 0, a.transB ? 1 : 0) < (b.m, b.n, b.k, b.transA ? 1 : 0, b.transB ? 1 : 0) }
}

/// The matrix products of a step, by shape: FLOPs are counted from these (elementwise work is
/// not counted, as is usual), and `rawSgemmMs` times them as bare OpenBLAS calls.
struct Workload {
    var gemms: [GemmShape: Int] = [:]

    var flops: Double { gemms.reduce(0) { $0 + $1.key.flops * Double($1.value) } }

    mutating func add(_ m: Int, _ n: Int, _ k: Int, transA: Bool = false, transB: Bool = false, times: Int = 1) {
        gemms[GemmShape(m: m, n: n, k: k, transA: transA, transB: transB), default: 0] += times
    }

    /// y = x W^T (+ the adapter's x A diag(alpha) B) on `rows` rows. Training adds the products
    /// backward needs: dX when the input carries a gradient, and dA, dB for the adapter (frozen
    /// weights get none).
    mutating func linear(rows: Int, _ inF: Int, _ outF: Int, adapterRank k: Int?, training: Bool, needDx: Bool) {
        add(rows, outF, inF, transB: true)
        if let k {
            add(rows, k, inF)
            add(rows, outF, k)
        }
        guard training else { return }
        if needDx { add(rows, inF, outF) }
        if let k {
            add(k, outF, rows, transA: true)        // dB = h^T g
            add(rows, k, outF, transB: true)        // dh = g B^T
            add(inF, k, rows, transA: true)         // dA = x^T dh
            if needDx { add(rows, inF, k, transB: true) }   // dx += dh A^T
        }
    }

    /// Softmax attention per (batch, head): scores and weighted values; training adds dV, dP,
    /// dQ and dK (a recomputation of the scores is not counted: it is not needed work).
    mutating func attention(batch: Int, heads: Int, queries sq: Int, keys sk: Int, headDim d: Int, training: Bool) {
        let units = batch * heads
        add(sq, sk, d, transB: true, times: units)
        add(sq, d, sk, times: units)
        guard training else { return }
        add(sk, d, sq, transA: true, times: units)
        add(sq, sk, d, transB: true, times: units)
        add(sq, d, sk, times: units)
        add(sk, d, sq, transA: true, times: units)
    }

    /// The Flux transformer of `c` at batch b with t text and s image tokens, LoRWeB adapters
    /// (rank n r, kdim, qdim) on every Linear of the blocks when `adapter` is given.
    static func flux(_ c: FluxConfig, batch b: Int, text t: Int, image s: Int,
                     adapter: LoRABasisConfig?, training: Bool) -> Workload {
        var w = Workload()
        let dim = c.innerDim, k = adapter.map { $0.n * $0.r }
        let embed = 256
        // Time, guidance and pooled-text embedders; x and context embedders (frozen, inputs frozen).
        w.linear(rows: b, embed, dim, adapterRank: nil, training: false, needDx: false)
        w.linear(rows: b, dim, dim, adapterRank: nil, training: false, needDx: false)
        if c.guidanceEmbeds {
            w.linear(rows: b, embed, dim, adapterRank: nil, training: false, needDx: false)
            w.linear(rows: b, dim, dim, adapterRank: nil, training: false, needDx: false)
        }
        w.linear(rows: b, c.pooledProjectionDim, dim, adapterRank: nil, training: false, needDx: false)
        w.linear(rows: b, dim, dim, adapterRank: nil, training: false, needDx: false)
        w.linear(rows: b * s, c.inChannels, dim, adapterRank: nil, training: false, needDx: false)
        w.linear(rows: b * t, c.jointAttentionDim, dim, adapterRank: nil, training: false, needDx: false)
        var adapted = 0
        func block(_ rows: Int, _ i: Int, _ o: Int, needDx: Bool = true) {
            w.linear(rows: rows, i, o, adapterRank: k, training: training, needDx: needDx)
            adapted += 1
        }
        for _ in 0..<c.numLayers {
            block(b, dim, 6 * dim, needDx: false)    // norm1.linear on silu(temb): frozen input
            block(b, dim, 6 * dim, needDx: false)    // norm1_context.linear
            for _ in 0..<3 { block(b * s, dim, dim); block(b * t, dim, dim) }
            w.attention(batch: b, heads: c.numAttentionHeads, queries: s + t, keys: s + t, headDim: c.attentionHeadDim, training: training)
            block(b * s, dim, dim); block(b * t, dim, dim)
            block(b * s, dim, 4 * dim); block(b * s, 4 * dim, dim)
            block(b * t, dim, 4 * dim); block(b * t, 4 * dim, dim)
        }
        for _ in 0..<c.numSingleLayers {
            block(b, dim, 3 * dim, needDx: false)
            for _ in 0..<3 { block(b * (s + t), dim, dim) }
            w.attention(batch: b, heads: c.numAttentionHeads, queries: s + t, keys: s + t, headDim: c.attentionHeadDim, training: training)
            block(b * (s + t), dim, 4 * dim)
            block(b * (s + t), 5 * dim, dim)
        }
        w.linear(rows: b, dim, 2 * dim, adapterRank: nil, training: false, needDx: false)
        w.linear(rows: b * s, dim, c.outputChannels, adapterRank: nil, training: training, needDx: true)
        if let a = adapter {
            // Coefficients: to_q and the key scores of every adapted layer (and their gradients).
            let dh = a.keysDim / a.heads
            w.add(b, a.keysDim, a.queryDim, transB: true, times: adapted)
            w.add(b, a.n, dh, transB: true, times: adapted * a.heads)
            if training {
                w.add(a.keysDim, a.queryDim, b, transA: true, times: adapted)
                w.add(b, dh, a.n, times: adapted * a.heads)
                w.add(a.n, dh, b, transA: true, times: adapted * a.heads)
            }
        }
        return w
    }

    /// CLIPVisionModelWithProjection forward on b images.
    static func clip(_ c: CLIPVisionConfig, batch b: Int) -> Workload {
        var w = Workload()
        let d = c.hiddenSize, n = c.positions
        w.linear(rows: b * (n - 1), c.numChannels * c.patchSize * c.patchSize, d, adapterRank: nil, training: false, needDx: false)
        for layer in 0..<c.numHiddenLayers {
            // The last layer computes the class position only (keys and values from all of them).
            let queries = layer == c.numHiddenLayers - 1 ? 1 : n
            for _ in 0..<2 { w.linear(rows: b * n, d, d, adapterRank: nil, training: false, needDx: false) }
            for _ in 0..<2 { w.linear(rows: b * queries, d, d, adapterRank: nil, training: false, needDx: false) }
            w.attention(batch: b, heads: c.numAttentionHeads, queries: queries, keys: n, headDim: d / c.numAttentionHeads, training: false)
            w.linear(rows: b * queries, d, c.intermediateSize, adapterRank: nil, training: false, needDx: false)
            w.linear(rows: b * queries, c.intermediateSize, d, adapterRank: nil, training: false, needDx: false)
        }
        w.linear(rows: b, d, c.projectionDim, adapterRank: nil, training: false, needDx: false)
        return w
    }

    /// Milliseconds for all of the workload's products as bare cblas_sgemm calls on contiguous
    /// operands, OpenBLAS threading itself over `Runtime.threads`: the machine's ceiling for the
    /// step's matrix work. Median of `reps` passes.
    func rawSgemmMs(reps: Int) -> Double {
        let shapes = gemms.keys.sorted()
        let maxA = shapes.map { $0.m * $0.k }.max() ?? 1, maxB = shapes.map { $0.k * $0.n }.max() ?? 1
        let maxC = shapes.map { $0.m * $0.n }.max() ?? 1
        var rng = RNG(seed: 5)
        let a = rng.normal([maxA]), b = rng.normal([maxB]), c = Tensor.zeros([maxC])
        openblas_set_num_threads(Int32(Runtime.threads))
        defer { openblas_set_num_threads(1) }
        return medianMs(reps: reps) {
            for s in shapes {
                let lda = s.transA ? s.m : s.k, ldb = s.transB ? s.k : s.n
                for _ in 0..<gemms[s]! {
                    cblas_sgemm(CblasRowMajor, s.transA ? CblasTrans : CblasNoTrans, s.transB ? CblasTrans : CblasNoTrans,
                                Int32(s.m), Int32(s.n), Int32(s.k), 1, a.data, Int32(lda), b.data, Int32(ldb), 0, c.data, Int32(s.n))
                }
            }
        }
    }
}

/// Resident memory from /proc/self/status: current and peak (high-water mark), in MB.
enum Memory {
    static func status() -> (rss: Double, peak: Double) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// The peak resident memory while `body` runs, above the resident memory before it (MB): the
    /// kernel's high-water mark is reset first (clear_refs 5), so setup does not count.
    static func stepPeak(_ body: () -> Void) -> (before: Double, peakAbove: Double) {
        let before = status().rss
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        body()
        return (before, max(0, status().peak - before))
    }
}

/// What every step benchmark prints; `median_ms` and `gflop_per_s` are the contract.
struct StepReport: Encodable {
    let benchmark: String
    let threads: Int
    let blas: String
    let reps: Int
    let median_ms: Double
    let min_ms: Double
    let flops: Double
    let gflop_per_s: Double
    let raw_sgemm_ms: Double?
    let raw_sgemm_gflop_per_s: Double?
    /// ours / raw sgemm throughput on the step's products: closeness to the machine's limit.
    let sgemm_fraction: Double?
    let rss_before_step_mb: Double
    let step_peak_mb: Double
    let process_peak_mb: Double
    let notes: [String: String]
    let lorweb_version = LorwebVersion.description

    func print(json: Bool) throws {
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            Swift.print(String(decoding: try enc.encode(self), as: UTF8.self))
            return
        }
        Swift.print("OpenBLAS: \(blas)   threads: \(threads)")
        for (k, v) in notes.sorted(by: { $0.key < $1.key }) { Swift.print("  \(k): \(v)") }
        Swift.print(String(format: "%@: median %.1f ms (min %.1f, %d reps), %.2f GFLOP, %.1f GFLOP/s", benchmark, median_ms, min_ms, reps, flops / 1e9, gflop_per_s))
        if let raw = raw_sgemm_gflop_per_s, let f = sgemm_fraction {
            Swift.print(String(format: "raw cblas_sgemm on the same products: %.1f GFLOP/s; ours/raw %.2f", raw, f))
        }
        Swift.print(String(format: "memory: %.0f MB resident before a step, peak %.0f MB above it during one; process peak %.0f MB", rss_before_step_mb, step_peak_mb, process_peak_mb))
    }
}

/// Times `step` (`reps` after a warm-up), and optionally the raw-sgemm ceiling of `workload`.
/// Memory is the warm-up's: the first step after setup, which also fills the allocator's caches
/// (later steps reuse freed memory that the process still holds, and would look free).
func measure(_ name: String, reps: Int, workload: Workload, raw: Bool, notes: [String: String], _ step: () -> Void) -> StepReport {
    let mem = Memory.stepPeak(step)
    var times: [Double] = []
    for _ in 0..<reps {
        let t0 = DispatchTime.now().uptimeNanoseconds
        step()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    let median = times.sorted()[times.count / 2], flops = workload.flops
    let rawMs = raw ? workload.rawSgemmMs(reps: 3) : nil
    let gf = flops / median / 1e6, rawGf = rawMs.map { flops / $0 / 1e6 }
    return StepReport(benchmark: name, threads: Runtime.threads, blas: Runtime.blasConfig, reps: reps, median_ms: median,
                      min_ms: times.min()!, flops: flops, gflop_per_s: gf, raw_sgemm_ms: rawMs, raw_sgemm_gflop_per_s: rawGf,
                      sgemm_fraction: rawGf.map { gf / $0 }, rss_before_step_mb: mem.before, step_peak_mb: mem.peakAbove,
                      process_peak_mb: Memory.status().peak, notes: notes)
}

/// The small preset with adapters and a batch of Kontext inputs (16 text, 64 target + 64 context
/// tokens), the same shapes `tools/peer/peer.py` builds on the PyTorch side.
struct SmallFluxSetup {
    let model: FluxTransformer
    let adapters: LoRWeBAdapters
    let adapterConfig: LoRABasisConfig
    let batch: Int, text = 16, target = 64
    let x0: Tensor, context: Tensor, text_: Tensor, pooled: Tensor, query: Tensor, imgIds: Tensor, txtIds: Tensor

    init(batch: Int, n: Int, r: Int) throws {
        let c = FluxConfig.small
        model = try FluxTransformer(.initialising(seed: 0), config: c)
        // qdim 3 x 64: the query concatenates three embeddings of the small world's encoder.
        adapterConfig = LoRABasisConfig(n: n, r: r, keysDim: 128, queryDim: 192)
        adapters = try LoRWeBAdapters(.initialising(seed: 1), attachingTo: model, config: adapterConfig)
        self.batch = batch
        var rng = RNG(seed: 2)
        x0 = rng.normal([batch, target, c.inChannels])
        context = rng.normal([batch, target, c.inChannels])
        text_ = rng.normal([batch, text, c.jointAttentionDim])
        pooled = rng.normal([batch, c.pooledProjectionDim])
        query = rng.normal([batch, 192])
        var ids: [Float] = []
        for first in 0..<2 { for i in 0..<8 { for j in 0..<8 { ids += [Float(first), Float(i), Float(j)] } } }
        imgIds = Tensor(shape: [2 * target, 3], data: ids)
        txtIds = Tensor.zeros([text, 3])
    }

    /// Velocity for the target tokens of x_t, the adapters mixed by the setup's query unless
    /// told otherwise.
    func velocity(_ xt: Tensor, t: [Float], adapters input: AdapterInput? = nil) -> Tensor {
        let out = model(hiddenStates: Tensor.concat([xt, context], axis: 1), encoderHiddenStates: text_, pooledProjections: pooled,
                        timestep: Tensor(shape: [batch], data: t), guidance: Tensor.full([batch], 1), imgIds: imgIds, txtIds: txtIds,
                        adapters: input ?? .query(query))
        return out.sliced(axis: 1, 0..<target)
    }

    /// FLOPs of a step; `merged`: the basis is merged into the weights, so the adapted layers
    /// run as plain Linears.
    func workload(training: Bool, merged: Bool = false) -> Workload {
        Workload.flux(.small, batch: batch, text: text, image: 2 * target, adapter: merged ? nil : adapterConfig, training: training)
    }

    var notes: [String: String] {
        ["model": "small preset (2 double + 4 single blocks, 8 heads x 32), batch \(batch), 16 text + 64 target + 64 context tokens",
         "adapters": "n \(adapterConfig.n) r \(adapterConfig.r) kdim 128 qdim 192, softmax, mean, on \(adapters.layers.count) layers (\(adapters.parameterCount) parameters)"]
    }
}

struct BenchTrainStep: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step",
        abstract: "One LoRWeB training step of the small preset: forward, flow-matching loss, backward, AdamW on the adapters.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: "Timed repetitions (median is reported).") var reps = 5
    @Option(help: "Batch size.") var batch = 16
    @Option(help: "Basis size n (1 with --rank 128: a single LoRA).") var loras = 32
    @Option(help: "Rank r of each basis element.") var rank = 4
    @Flag(help: "Skip timing raw cblas_sgemm on the step's products.") var noRaw = false

    func execute() throws {
        guard reps >= 1, batch >= 1, loras >= 1, rank >= 1 else { throw ValidationError("--reps, --batch, --loras and --rank must be at least 1") }
        let setup = try SmallFluxSetup(batch: batch, n: loras, r: rank)
        let params = setup.adapters.namedParameters
        for (_, p) in params { p.requiresGrad = true }
        let adam = AdamW(params, config: AdamWConfig(learningRate: 1e-3, beta2: 0.99, eps: 1e-6, weightDecay: 0.05))
        var rng = RNG(seed: 3)
        let report = measure("train-step", reps: reps, workload: setup.workload(training: true), raw: !noRaw,
                             notes: setup.notes.merging(["flops": "forward + the products backward needs (adapter dA, dB; dX; attention dQ, dK, dV)"]) { a, _ in a }) {
            let eps = rng.normal(setup.x0.shape)
            let t = FlowMatching.trainingTimesteps(batch: setup.batch, rng: &rng)
            let prediction = setup.velocity(FlowMatching.noised(x0: setup.x0, eps: eps, t: t), t: t)
            let loss = FlowMatching.loss(prediction: prediction, target: FlowMatching.velocityTarget(x0: setup.x0, eps: eps), t: t)
            loss.backward()
            adam.step(learningRate: 1e-3)
        }
        try report.print(json: json)
    }
}

struct BenchEdit: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "One sampling step of the small preset with LoRWeB adapters (forward without a graph, Euler update).",
        discussion: """
            As `lorweb edit` runs it: the analogy's coefficients are computed and the mixed basis merged into \
            the weights once (timed apart as merge_ms), and the step runs plain Linears. --unmerged applies \
            the basis in every adapted layer at every step instead, from the query, as the release does.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: "Timed repetitions (median is reported).") var reps = 20
    @Option(help: "Batch size.") var batch = 1
    @Flag(help: "Mix and apply the basis inside every adapted layer at every step.") var unmerged = false
    @Flag(help: "Skip timing raw cblas_sgemm on the step's products.") var noRaw = false

    func execute() throws {
        guard reps >= 1, batch >= 1 else { throw ValidationError("--reps and --batch must be at least 1") }
        let setup = try SmallFluxSetup(batch: batch, n: 32, r: 4)
        var x = setup.x0
        let t = [Float](repeating: 0.5, count: batch)
        var notes = setup.notes
        var input: AdapterInput? = nil
        if !unmerged {
            let merge = { withNoGrad { setup.adapters.merged(into: setup.model, coefficients: setup.adapters.coefficients(setup.query)) } }
            input = merge()
            notes["merge_ms"] = String(format: "%.2f", medianMs(reps: 5) { _ = merge() })
            notes["basis"] = "merged into the weights once per analogy (merge_ms, not in median_ms)"
        } else {
            notes["basis"] = "applied by every adapted layer at every step, coefficients from the query"
        }
        let report = measure("edit", reps: reps, workload: setup.workload(training: false, merged: !unmerged), raw: !noRaw, notes: notes) {
            withNoGrad { x = FlowMatching.eulerStep(x: x, v: setup.velocity(x, t: t, adapters: input), sigma: 0.5, sigmaNext: 0.45) }
        }
        try report.print(json: json)
    }
}

struct BenchCLIP: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "CLIP ViT-L/14 image embeddings (random weights) of a batch of 224 x 224 images.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: "Timed repetitions (median is reported).") var reps = 5
    @Option(help: "Images per call (a query embeds 3).") var images = 1
    @Flag(help: "Skip timing raw cblas_sgemm on the step's products.") var noRaw = false

    func execute() throws {
        guard reps >= 1, images >= 1 else { throw ValidationError("--reps and --images must be at least 1") }
        let c = CLIPVisionConfig.vitL14
        let clip = try CLIPVision(.initialising(seed: 0), config: c)
        var rng = RNG(seed: 1)
        let pixels = rng.normal([images, 3, c.imageSize, c.imageSize])
        let report = measure("clip", reps: reps, workload: .clip(c, batch: images), raw: !noRaw,
                             notes: ["model": "CLIP ViT-L/14 vision tower + projection, \(images) image(s) of 224 x 224"]) {
            _ = withNoGrad { clip.imageEmbeds(pixels) }
        }
        try report.print(json: json)
    }
}

struct BenchAnalysis: LorwebCommand {
    static let configuration = CommandConfiguration(
        commandName: "analysis",
        abstract: "Singular values of one mixed LoRA on a 3072 x 3072 layer (n 32, r 4): thin factors vs dense LAPACK.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: "Timed repetitions of the thin path (median is reported).") var reps = 10
    @Option(help: "Timed repetitions of the dense path.") var denseReps = 3

    func execute() throws {
        guard reps >= 1, denseReps >= 1 else { throw ValidationError("--reps and --dense-reps must be at least 1") }
        let (n, r, dim) = (32, 4, 3072), k = n * r
        let adapter = try LoRABasis(.initialising(seed: 0), inFeatures: dim, outFeatures: dim,
                                    config: LoRABasisConfig(n: n, r: r, keysDim: 128, queryDim: 2304))
        var rng = RNG(seed: 1)
        adapter.loraB.data.update(from: rng.normal(adapter.loraB.shape, std: 0.01).data, count: adapter.loraB.count)
        let alpha = withNoGrad { rng.uniform([n]).softmax() }.toArray()
        var thinValues: [Float] = [], denseValues: [Float] = []
        let thin = {
            thinValues = try! LayerFactors(adapter).singularValues(alpha).toArray()
        }
        let dense = {
            // Delta W = A diag(alpha (x) 1_r) B, materialised [in, out], then LAPACK's full SVD.
            let deltaW = withNoGrad { () -> Tensor in
                let a = adapter.loraA.permuted([1, 0, 2]).reshaped([dim, k])
                let scale = Tensor(shape: [1, k], data: alpha.flatMap { [Float](repeating: $0, count: r) })
                return (a * scale).matmul(adapter.loraB.reshaped([k, dim]))
            }
            denseValues = Array(try! Linalg.svd(deltaW, computeVectors: false).s.toArray().prefix(k))
        }
        // Householder QR with Q formed (2 per factor: 4 m k^2 - 4/3 k^3), the core product, the k x k SVD (~ 4 k^3).
        let qrFlops = 2 * (4 * Double(dim * k * k) - 4.0 / 3 * Double(k * k * k))
        let workload = { () -> Workload in var w = Workload(); w.add(k, k, k, transB: true); return w }()
        let report = measure("analysis", reps: reps, workload: workload, raw: false, notes: [:]) { thin() }
        let denseMs = medianMs(reps: denseReps) { dense() }
        let thinFlops = qrFlops + workload.flops + 4 * Double(k * k * k)
        let maxRel = zip(thinValues, denseValues).map { abs($0 - $1) / max(denseValues[0], 1e-30) }.max() ?? 0
        let out = StepReport(
            benchmark: "analysis", threads: report.threads, blas: report.blas, reps: reps, median_ms: report.median_ms,
            min_ms: report.min_ms, flops: thinFlops, gflop_per_s: thinFlops / report.median_ms / 1e6, raw_sgemm_ms: nil,
            raw_sgemm_gflop_per_s: nil, sgemm_fraction: nil, rss_before_step_mb: report.rss_before_step_mb,
            step_peak_mb: report.step_peak_mb, process_peak_mb: report.process_peak_mb,
            notes: ["layer": "3072 x 3072, n 32, r 4 (k = 128), softmax coefficients",
                    "thin": "QR of the stacked A and B^T + SVD of the 128 x 128 core",
                    "dense": "Delta W materialised, LAPACK sgesdd (values only) on 3072 x 3072",
                    "dense_ms": String(format: "%.1f", denseMs),
                    "dense_over_thin": String(format: "%.1f", denseMs / report.median_ms),
                    "max_relative_difference": String(format: "%.2e", maxRel)])
        try out.print(json: json)
    }
}
