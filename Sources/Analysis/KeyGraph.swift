import CGraphviz
import Foundation
import Formats
import Tensor

// The key-similarity graph of a basis: one node per basis element, sized by how much
// coefficient mass it receives when coefficients are given, and edges by a rule that adapts to
// the similarities (each key's nearest keys, or the top share of all pairs) or by a fixed cosine.
// A fixed cosine rarely suits learned keys: their cosines sit within about +-0.3 of each other, so
// a threshold of 0.5 draws no edges at all. Laid out and rendered in-process by libgraphviz
// (cgraph + gvc), from DOT text that is also written out for other tools.

public struct KeyGraph {
    /// Which pairs of keys are joined by an edge.
    public enum EdgeRule: Equatable, Sendable, CustomStringConvertible {
        /// Each key's k most similar other keys: an edge when either end ranks the other in its top k.
        case top(Int)
        /// The pairs whose cosine reaches this quantile of all pairs' cosines (linear
        /// interpolation between order statistics, as numpy's default).
        case quantile(Double)
        /// The pairs whose cosine is at least this.
        case cosine(Float)

        /// "top:K" (or "topK"), "quantile:Q" with Q in [0, 1], or "cosine:X"; nil otherwise.
        public init?(_ text: String) {
            let t = text.lowercased()
            if t.hasPrefix("top"), let k = Int(t.dropFirst(t.hasPrefix("top:") ? 4 : 3)), k >= 1 { self = .top(k); return }
            let parts = t.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            switch parts[0] {
            case "quantile": guard let q = Double(parts[1]), q >= 0, q <= 1 else { return nil }; self = .quantile(q)
            case "cosine": guard let x = Float(parts[1]), x.isFinite else { return nil }; self = .cosine(x)
            default: return nil
            }
        }

        /// The spelling `init` reads.
        public var description: String {
            switch self {
            case .top(let k): return "top:\(k)"
            case .quantile(let q): return "quantile:\(q)"
            case .cosine(let x): return "cosine:\(x)"
            }
        }

        /// The rule in words, for figures and pages.
        public var phrase: String {
            switch self {
            case .top(let k): return "each key's \(k) nearest key\(k == 1 ? "" : "s")"
            case .quantile(let q): return String(format: "pairs at or above the %g quantile of cosines", q)
            case .cosine(let x): return String(format: "cosine >= %g", x)
            }
        }
    }

    public let similarity: Tensor      // [n, n]
    public let mass: [Float]?          // [n], average coefficient per element
    public let rule: EdgeRule
    public let title: String
    /// (i, j, similarity) for i < j, in that order: the pairs `rule` joins.
    public let edges: [(Int, Int, Float)]

    public init(similarity: Tensor, mass: [Float]? = nil, rule: EdgeRule = .top(3), title: String = "key similarity") {
        precondition(similarity.rank == 2 && similarity.shape[0] == similarity.shape[1], "keygraph: similarity \(similarity.shape) is not square")
        self.similarity = similarity
        self.mass = mass
        self.rule = rule
        self.title = title
        edges = Self.edges(similarity, rule: rule)
    }

    public var n: Int { similarity.shape[0] }

    static func edges(_ similarity: Tensor, rule: EdgeRule) -> [(Int, Int, Float)] {
        let n = similarity.shape[0], s = similarity.toArray()
        let pairs = (0..<n).flatMap { i in ((i + 1)..<n).map { j in (i, j, s[i * n + j]) } }
        switch rule {
        case .cosine(let x): return pairs.filter { $0.2 >= x }
        case .quantile(let q):
            guard !pairs.isEmpty else { return [] }
            let sorted = pairs.map(\.2).sorted(), h = Double(sorted.count - 1) * q, lo = Int(h.rounded(.down))
            let cut = lo + 1 < sorted.count ? sorted[lo] + Float(h - Double(lo)) * (sorted[lo + 1] - sorted[lo]) : sorted[lo]
            return pairs.filter { $0.2 >= cut }
        case .top(let k):
            // Ties go to the lower index, so the graph does not depend on sort stability.
            var joined = Set<Int>()
            for i in 0..<n {
                let ranked = (0..<n).filter { $0 != i }.sorted { (s[i * n + $0], -$0) > (s[i * n + $1], -$1) }
                for j in ranked.prefix(k) { joined.insert(min(i, j) * n + max(i, j)) }
            }
            return pairs.filter { joined.contains($0.0 * n + $0.1) }
        }
    }

    /// What the figure says about its edges: the rule and the cosines of the edges it drew.
    public var edgeSummary: String {
        let values = edges.map(\.2)
        guard let lo = values.min(), let hi = values.max() else { return "no edges (\(rule.phrase))" }
        return String(format: "%d edges: %@, cosine %.2f to %.2f", edges.count, rule.phrase, lo, hi)
    }

    /// Undirected DOT text: deterministic (fixed layout seed, fixed number formatting).
    public var dot: String {
        let maxMass = mass?.max() ?? 1
        let label = "\(title)\\n\(edgeSummary)".replacingOccurrences(of: "\"", with: "'")
        var lines = ["graph keys {", "  graph [layout=neato, start=7, overlap=false, splines=true, label=\"\(label)\", fontname=Helvetica, fontsize=11];",
                     "  node [shape=circle, style=filled, fontname=Helvetica, fontsize=9, color=\"#30507a\", fillcolor=\"#cfe0f5\"];",
                     "  edge [color=\"#7a7a7a\"];"]
        for i in 0..<n {
            let share = mass.map { max(Double($0[i] / max(maxMass, 1e-12)), 0) } ?? 0.5
            lines.append(String(format: "  k%d [label=\"%d\", width=%.3f, fixedsize=true];", i, i, 0.3 + 0.6 * share))
        }
        // Pen width grows with the cosine across the range of the edges drawn.
        let (lo, hi) = (edges.map(\.2).min() ?? 0, edges.map(\.2).max() ?? 1)
        for (i, j, s) in edges {
            lines.append(String(format: "  k%d -- k%d [penwidth=%.2f, tooltip=\"%.3f\"];", i, j, 0.5 + 3 * Double((s - lo) / max(hi - lo, 1e-6)), Double(s)))
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Renders to `path` (.svg or .png, by extension) and writes the DOT text beside it (`.dot`).
    public func render(to path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        guard ext == "svg" || ext == "png" else { throw FormatError(path, "keygraph output must end in .svg or .png") }
        let dotPath = (path as NSString).deletingPathExtension + ".dot"
        try AtomicFile.write(Data(dot.utf8), to: dotPath)
        try Self.render(dot: dot, format: ext, to: path)
    }

    /// Lays out DOT text with neato and renders it with gvc, through a temporary file renamed
    /// into place (graphviz writes as it goes).
    static func render(dot: String, format: String, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let temp = (folder.isEmpty ? "." : folder) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        // graphviz exits the process when it cannot open its output: prove the folder writable first.
        guard FileManager.default.createFile(atPath: temp, contents: nil) else {
            throw FormatError(path, "cannot write into \(folder.isEmpty ? "." : folder) (missing or read-only folder)")
        }
        Self.lock.lock()
        defer { Self.lock.unlock() }   // graphviz keeps global state: one render at a time
        guard let gvc = Self.context else { unlink(temp); throw FormatError(path, "graphviz: cannot create a context") }
        let text = strdup(dot)
        defer { free(text) }
        guard let graph = agmemread(text) else { unlink(temp); throw FormatError(path, "graphviz could not parse the generated DOT") }
        defer { agclose(graph) }
        guard gvLayout(gvc, graph, "neato") == 0 else {
            unlink(temp)
            throw FormatError(path, "graphviz layout failed (is the neato plugin installed? try libgvc6-config-update -c)")
        }
        defer { gvFreeLayout(gvc, graph) }
        guard gvRenderFilename(gvc, graph, format, temp) == 0 else {
            unlink(temp)
            throw FormatError(path, "graphviz could not render \(format)")
        }
        guard rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw FormatError(path, "cannot write: \(reason)")
        }
    }

    static let lock = NSLock()
    /// One context for the process, never freed: the pango plugin caches a pointer to the last
    /// font name, which the context owns, so a second render after gvFreeContext read freed
    /// memory (AddressSanitizer, `make sanitize`).
    nonisolated(unsafe) static let context = gvContext()
}

extension KeyGraph {
    /// The graph of `stream`'s layer `layer` (a diffusers layer key), or of the mean key
    /// similarity over all layers for "all"; with `coefficients` (an .npy of [n], [layers, n] or
    /// [triplets, layers, n]), nodes are sized by the mean coefficient over the layers shown.
    /// Errors name `model` (the adapter file or run folder) or the coefficients file.
    public static func of(_ stream: AdapterStream, layer: String, model: String, coefficients: String?, rule: EdgeRule) throws -> KeyGraph {
        let (file, source, layers) = (stream.file, stream.source, stream.layers)
        let chosen: [Int]
        if layer == "all" { chosen = Array(layers.indices) } else {
            guard let i = layers.firstIndex(of: layer) else {
                throw FormatError(model, "no adapted layer \(layer) (e.g. \(layers[0]))")
            }
            chosen = [i]
        }
        var sum: Tensor? = nil
        for i in chosen {
            guard let name = source.sourceKey("transformer.\(layers[i]).lora_keys") else {
                throw FormatError(model, "layer \(layers[i]) has no lora_keys")
            }
            let keys = try file.weight(name, cache: false)
            let s = keySimilarity(keys)
            sum = sum.map { $0 + s } ?? s
        }
        let similarity = sum! / Float(chosen.count)
        let n = similarity.shape[0]
        var mass: [Float]? = nil
        if let coeffs = coefficients {
            let c = try NPY.read(coeffs)
            if let problem = c.nonFiniteProblem(what: "the coefficients") { throw FormatError(coeffs, problem) }
            guard c.shape.last == n, c.rank <= 3, c.rank == 1 || c.shape[c.rank - 2] == layers.count else {
                throw FormatError(coeffs, "shape \(c.shape) is not [n], [layers, n] or [triplets, layers, n] with n \(n), layers \(layers.count)")
            }
            let perLayer = c.rank == 1 ? c.reshaped([1, n]) : c.reshaped([-1, layers.count, n]).mean(axis: 0)   // [L or 1, n]
            let rows = c.rank == 1 ? [0] : chosen
            mass = (0..<n).map { j in rows.map { perLayer[$0, j] }.reduce(0, +) / Float(rows.count) }
        }
        let title = layer == "all" ? "mean key similarity over \(layers.count) layers" : layer
        return KeyGraph(similarity: similarity, mass: mass, rule: rule, title: title)
    }
}
