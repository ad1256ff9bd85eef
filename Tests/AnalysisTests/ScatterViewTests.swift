import Figures
import Foundation
import Testing
@testable import Analysis
import Tensor

// The PCA scatter views: which ones the labels support, and legends that never repeat a style
// silently nor show more than 12 colours where marker shapes carry another label.

private func plots(_ figure: Figure) -> [Plot] {
    switch figure.panel {
    case .plot(let p): return [p]
    case .panels(let panels, _): return panels.map(\.plot)
    default: return []
    }
}

private func entries(_ plot: Plot) -> [(name: String, color: Color, marker: Marker)] {
    (plot.legendItems ?? []).compactMap { item in
        if case .entry(let name, let color, _, let marker) = item { return (name, color, marker) }
        return nil
    }
}

private func notes(_ plot: Plot) -> [String] {
    (plot.legendItems ?? []).compactMap { if case .note(let text) = $0 { return text }; return nil }
}

@Test func aSmallWorldGetsKindAndPerKindFamilyViews() {
    let kinds = ["color", "style", "object", "layout", "background", "object+color", "style+color"]
    let t = 70
    let scores = Tensor(shape: [t, 2], data: (0..<(2 * t)).map { Float($0 % 13) })
    let kind = (0..<t).map { kinds[$0 % kinds.count] }
    let family = (0..<t).map { "family\($0 % 21)" }
    let labels = ["kind": kind, "family": family, "task": (0..<t).map { "task\($0 % 35)" }, "split": (0..<t).map { $0 < 35 ? "seen" : "unseen" }]
    let views = AnalysisFigures.scatters(scores, labels: labels, title: "t")
    #expect(views.map(\.name) == ["kind", "family"])
    let overview = plots(views[0].figure)[0]
    // Compositions share one colour; the split is the marker shape.
    #expect(entries(overview).filter { $0.marker == .circle }.map(\.name).prefix(6) == ["color", "style", "object", "layout", "background", "composition"])
    #expect(Set(entries(overview).suffix(2).map(\.name)) == ["seen", "unseen"])
    let panels = plots(views[1].figure)
    #expect(panels.count == 6)
    for panel in panels {
        let colours = entries(panel).map { "\($0.color.red),\($0.color.green),\($0.color.blue),\($0.marker)" }
        #expect(Set(colours).count == colours.count && colours.count <= 12)
        #expect(notes(panel).contains("lines join each task's triplets to their mean"))
    }
}

@Test func aListWithManyTasksSaysWhichItCannotTellApart() {
    let t = 70
    let scores = Tensor(shape: [t, 2], data: (0..<(2 * t)).map { Float($0) })
    let views = AnalysisFigures.scatters(scores, labels: ["task": (0..<t).map { "task \($0)" }, "family": Array(repeating: "", count: t)], title: "t")
    #expect(views.map(\.name) == ["task"])
    let plot = plots(views[0].figure)[0]
    #expect(entries(plot).count == CategoryStyle.capacity)
    #expect(notes(plot) == ["+ \(t - CategoryStyle.capacity) more in grey, not told apart"])
    #expect(AnalysisFigures.scatters(scores, labels: [:], title: "t").map(\.name) == ["all"])
}
