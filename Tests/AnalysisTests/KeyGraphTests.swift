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
        let g = KeyGraph(similarity: planted(), threshold: 0.5)
        #expect(g.edges.map { [$0.0, $0.1] } == [[0, 1], [0, 2], [1, 2], [3, 4]])
        #expect(g.dot.contains("k3 -- k4") && !g.dot.contains("k2 -- k3"))
        #expect(g.dot.components(separatedBy: "[label=").count - 1 == 5)
    }

    @Test func rendersSVGAndPNGWithTheDOTBeside() throws {
        let dir = try scratchFolder("keygraph")
        let g = KeyGraph(similarity: planted(), mass: [0.5, 0.2, 0.1, 0.1, 0.1])
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
