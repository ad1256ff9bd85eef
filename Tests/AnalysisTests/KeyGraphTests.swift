import Foundation
import Testing
import Formats
import Tensor
@testable import Analysis
import TestSupport

@Suite struct KeyGraphTests {
    /// Two planted clusters {0,1,2} and {3,4} with similarity 0.9 inside, 0.1 across.
    func planted() -> Tensor {
        var s = [Float](repeating: 0.1, count: 25)
        for i in 0..<5 {
            for j in 0..<5 where (i < 3) == (j < 3) { s[i * 5 + j] = 0.9 }
            s[i * 5 + i] = 1
        }
        return Tensor(shape: [5, 5], data: s)
    }

    @Test func plantedClustersGiveTheirEdges() {
        let g = KeyGraph(similarity: planted(), rule: .cosine(0.5))
        #expect(g.edges.map { [$0.0, $0.1] } == [[0, 1], [0, 2], [1, 2], [3, 4]])
        #expect(g.dot.contains("k3 -- k4") && !g.dot.contains("k2 -- k3"))
        #expect(g.dot.components(separatedBy: "[label=").count - 1 == 5)
    }

    /// Five keys whose cosines put every rule's edges in a known place (off-diagonal values, sorted:
    /// 0, .1, .1, .15, .2, .2, .25, .3, .8, .9).
    func graded() -> Tensor {
        Tensor(shape: [5, 5], data: [1, 0.9, 0.2, 0.1, 0.0,
                                     0.9, 1, 0.3, 0.2, 0.1,
                                     0.2, 0.3, 1, 0.8, 0.25,
                                     0.1, 0.2, 0.8, 1, 0.15,
                                     0.0, 0.1, 0.25, 0.15, 1])
    }

    func pairs(_ rule: KeyGraph.EdgeRule, _ s: Tensor? = nil) -> [[Int]] {
        KeyGraph(similarity: s ?? graded(), rule: rule).edges.map { [$0.0, $0.1] }
    }

    @Test func topKJoinsEachKeyToItsNearestFromEitherEnd() {
        // Key 4's nearest is 2, though 2's nearest is 3: the edge is kept because one end ranks it.
        #expect(pairs(.top(1)) == [[0, 1], [2, 3], [2, 4]])
        #expect(pairs(.top(2)) == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3], [2, 4], [3, 4]])
        #expect(pairs(.top(4)).count == 10)
        // Ties go to the lower index: key 0 is as close to 1, 2 and 3; its one edge is to 1, and
        // 2 and 3 (each other's nearest) join each other.
        let tied = Tensor(shape: [4, 4], data: [1, 0.5, 0.5, 0.5, 0.5, 1, 0.1, 0.1, 0.5, 0.1, 1, 0.6, 0.5, 0.1, 0.6, 1])
        #expect(pairs(.top(1), tied) == [[0, 1], [2, 3]])
    }

    @Test func quantileAndCosineRulesCutWhereExpected() {
        // Quantile 0.8 of the ten cosines: position 7.2, between .3 and .8, so .4.
        #expect(pairs(.quantile(0.8)) == [[0, 1], [2, 3]])
        #expect(pairs(.quantile(1)) == [[0, 1]])
        #expect(pairs(.quantile(0)).count == 10)
        #expect(pairs(.cosine(0.25)) == [[0, 1], [1, 2], [2, 3], [2, 4]])
        #expect(pairs(.cosine(0.95)).isEmpty)
    }

    @Test func theFigureStatesTheRuleAndTheCosinesDrawn() {
        let g = KeyGraph(similarity: graded(), rule: .top(1))
        #expect(g.edgeSummary == "3 edges: each key's 1 nearest key, cosine 0.25 to 0.90")
        #expect(g.dot.contains("label=\"key similarity\\n3 edges: each key's 1 nearest key, cosine 0.25 to 0.90\""))
        #expect(KeyGraph(similarity: graded(), rule: .cosine(0.95)).edgeSummary == "no edges (cosine >= 0.95)")
        #expect(KeyGraph(similarity: graded(), rule: .quantile(0.8)).edgeSummary.hasPrefix("2 edges: pairs at or above the 0.8 quantile"))
    }

    @Test func edgeRulesParseTheirSpellings() {
        #expect(KeyGraph.EdgeRule("top:3") == .top(3) && KeyGraph.EdgeRule("top3") == .top(3))
        #expect(KeyGraph.EdgeRule("quantile:0.95") == .quantile(0.95) && KeyGraph.EdgeRule("cosine:-0.2") == .cosine(-0.2))
        for bad in ["top0", "top:", "quantile:1.5", "quantile:x", "cosine:nan", "cosine:inf", "high", "cosine"] {
            #expect(KeyGraph.EdgeRule(bad) == nil, "\(bad)")
        }
        #expect(KeyGraph.EdgeRule(KeyGraph.EdgeRule.quantile(0.9).description) == .quantile(0.9))
    }

    @Test func rendersSVGAndPNGWithTheDOTBeside() throws {
        let dir = try scratchFolder("keygraph")
        let g = KeyGraph(similarity: planted(), mass: [0.5, 0.2, 0.1, 0.1, 0.1], rule: .cosine(0.5))
        try g.render(to: dir + "/g.svg")
        let svg = try String(contentsOfFile: dir + "/g.svg", encoding: .utf8)
        #expect(svg.contains("<svg") && svg.components(separatedBy: "class=\"node\"").count - 1 == 5)
        #expect(svg.components(separatedBy: "class=\"edge\"").count - 1 == 4)
        #expect(FileManager.default.fileExists(atPath: dir + "/g.dot"))
        try g.render(to: dir + "/g.png")
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/g.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        // Same input, same bytes.
        try g.render(to: dir + "/again.svg")
        #expect(try String(contentsOfFile: dir + "/again.svg", encoding: .utf8) == svg)
        #expect(throws: FormatError.self) { try g.render(to: dir + "/missing/g.svg") }
        #expect(throws: FormatError.self) { try g.render(to: dir + "/g.gif") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("tmp") }.isEmpty)
    }
}
