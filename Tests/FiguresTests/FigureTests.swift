import Foundation
import Testing
@testable import Figures
import Formats
import TestSupport

/// The size an SVG declares (cairo writes width="Wpt" height="Hpt").
func svgSize(_ data: Data) -> (Double, Double)? {
    guard let text = String(data: data, encoding: .utf8), let open = text.range(of: "<svg") else { return nil }
    let tag = text[open.lowerBound...].prefix { $0 != ">" }
    func attribute(_ name: String) -> Double? {
        guard let r = tag.range(of: " \(name)=\"") else { return nil }
        return Double(tag[r.upperBound...].prefix { $0.isNumber || $0 == "." })
    }
    guard let w = attribute("width"), let h = attribute("height") else { return nil }
    return (w, h)
}

private func folder() throws -> String {
    let path = try scratchFolder("figures")
    return path
}

private let figures: [(String, Figure)] = {
    let spectra = (0..<3).map { l in Series("layer \(l)", style: .line, y: (0..<16).map { 10 / Double($0 + 1 + l) }) }
    let scatter = ["recolour", "mirror", "blur"].enumerated().map { i, name in
        Series(name, style: .scatter, x: (0..<10).map { Double($0) * 0.3 + Double(i) }, y: (0..<10).map { sin(Double($0 + i)) })
    }
    let n = 8
    let similarity = (0..<(n * n)).map { cos(Double($0 % n - $0 / n) * 0.4) }
    return [
        ("line", Figure(.plot(Plot(spectra, xLabel: "index", yLabel: "singular value", logY: true)), title: "spectra")),
        ("scatter", Figure(.plot(Plot(scatter, xLabel: "PC 1", yLabel: "PC 2")), title: "embedding", width: 500, height: 360)),
        ("bar", Figure(.plot(Plot([Series("mean", style: .bar, y: [0.2, -0.1, 0.4, 0.3])], yLabel: "similarity",
                                  xCategories: ["a.to_q", "a.to_k", "b.to_q", "b.to_k"], legend: false)))),
        ("heatmap", Figure(.heatmap(Heatmap(similarity, rows: n, columns: n, rowLabels: (0..<n).map(String.init),
                                            columnLabels: (0..<n).map(String.init), colorbarLabel: "cosine", scale: .diverging)),
                           title: "keys", width: 420, height: 380)),
    ]
}()

@Test(arguments: figures.map(\.0))
func figureFilesAreValidWithTheirSize(_ name: String) throws {
    let figure = figures.first { $0.0 == name }!.1
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try figure.write(stem: dir + "/" + name)
    let image = try Image.read(dir + "/\(name).png")
    #expect(image.width == figure.width && image.height == figure.height)
    // Something besides the white background was drawn.
    #expect(Set(image.pixels).count > 8)
    let svg = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).svg"))
    let size = try #require(svgSize(svg))
    #expect(size.0 == Double(figure.width) && size.1 == Double(figure.height))
    #expect(String(data: svg, encoding: .utf8)!.contains("</svg>"))
}

@Test func imageGridIsSizedToItsCellsAndShowsThePictures() throws {
    let red = Image(width: 8, height: 8, color: [255, 0, 0]), blue = Image(width: 16, height: 8, color: [0, 0, 255])
    let grid = ImageGrid([[red, blue, nil], [blue, red, red]], captions: [["a", "b", ""], ["t=0", "t=0.5", "t=1"]],
                         rowLabels: ["from", "to"], cellSize: 48)
    let figure = try Figure.images(grid, title: "strip")
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try figure.write(stem: dir + "/grid")
    let image = try Image.read(dir + "/grid.png")
    #expect(image.width == figure.width && image.height == figure.height)
    // The first cell's centre is the red picture, enlarged without smoothing.
    let layout = ImageGridLayout(grid, title: "strip", width: Double(figure.width), measure: try Canvas.measuring())
    let (x, y) = layout.origin(row: 0, column: 0)
    #expect(Array(image[Int(x + 24), Int(y + 24)].prefix(3)) == [255, 0, 0])
    let svg = try Data(contentsOf: URL(fileURLWithPath: dir + "/grid.svg"))
    #expect(svgSize(svg).map { $0.0 == Double(figure.width) } == true)
    #expect(String(data: svg, encoding: .utf8)!.contains("<image"))
}

@Test func figuresAreDeterministicAndRejectOtherExtensions() throws {
    let figure = figures[0].1
    #expect(try figure.png() == figure.png())
    #expect(try figure.svg() == figure.svg())
    #expect(throws: FormatError.self) { try figure.write(to: NSTemporaryDirectory() + "x.pdf") }
}

@Test func ticksAreRound() {
    let unit = niceTicks(0, 1, count: 5)
    #expect(unit.count == 6 && zip(unit, [0, 0.2, 0.4, 0.6, 0.8, 1]).allSatisfy { abs($0 - $1) < 1e-12 })
    #expect(niceTicks(-3, 17) == [0, 5, 10, 15])
    #expect(tickLabel(0.25) == "0.25" && tickLabel(100) == "100" && tickLabel(1.5) == "1.5" && tickLabel(2.5e-5) == "2e-05" || tickLabel(2.5e-5) == "3e-05")
}

@Test func wrappedTextFitsItsWidthAndKeepsEveryCharacter() throws {
    let m = try Canvas.measuring()
    for (text, width) in [("background_color(green)+vignette(0.9)", 90.0), ("a very long caption that must wrap", 60), ("short", 200),
                          ("unbreakablewordthatislongerthanthewidth", 40), ("two\nlines", 200)] {
        let lines = m.wrap(text, size: 11, width: width)
        #expect(lines.allSatisfy { m.textWidth($0, size: 11) <= width }, "\(text): \(lines)")
        #expect(lines.joined().filter { !$0.isWhitespace } == text.filter { !$0.isWhitespace }, "\(text): \(lines)")
    }
    #expect(m.wrap("background_color(green)+vignette(0.9)", size: 11, width: 150) == ["background_color(green)+", "vignette(0.9)"])
    #expect(m.wrap("two\nlines", size: 11, width: 200) == ["two", "lines"])
}

@Test func categoryStylesAreDistinctUpToCapacityAndNeverGrey() {
    let styles = (0..<CategoryStyle.capacity).compactMap(CategoryStyle.style)
    #expect(styles.count == CategoryStyle.capacity && CategoryStyle.capacity == 60)
    #expect(Set(styles.map { "\($0.color.red),\($0.color.green),\($0.color.blue),\($0.marker)" }).count == styles.count)
    #expect(!styles.contains { $0.color == CategoryStyle.context })
    #expect(CategoryStyle.style(CategoryStyle.capacity) == nil)
}

@Test func legendMakesRoomForItsLongestLabelOrSaysWhatItLeftOut() throws {
    let m = try Canvas.measuring()
    let long = "background_color(green)+vignette(0.9)"
    let legend = LegendLayout([.heading("task"), .entry(long, color: Color(0, 0, 0), style: .scatter, marker: .circle)],
                              maxWidth: 120, height: 400, measure: m)
    #expect(legend.rows[1].lines.count == 2)
    #expect(legend.width >= LegendLayout.swatch + legend.rows[1].lines.map { m.textWidth($0, size: LegendLayout.size) }.max()!)
    let many = (0..<40).map { LegendItem.entry("label \($0)", color: Color(0, 0, 0), style: .line, marker: .circle) }
    let short = LegendLayout(many, maxWidth: 120, height: 200, measure: m)
    guard case .note(let note) = short.rows.last!.item else { Issue.record("no note"); return }
    #expect(note == "+ \(40 - (short.rows.count - 1)) more, not shown")
    #expect(short.rows.reduce(0) { $0 + LegendLayout.height(of: $1) } <= 200)
}

@Test func imageGridReservesRoomForItsLabelsHeaderAndCaptions() throws {
    let m = try Canvas.measuring()
    let pixel = Image(width: 4, height: 4, color: [0, 0, 0])
    let grid = ImageGrid([[pixel, pixel], [pixel, pixel]], captions: [["t = 0.00", "a caption far wider than its cell"], ["", ""]],
                         header: ["a", "b' (ours)"], rowLabels: ["background_color(green)+vignette(0.9)", "b' (coefficients)"], cellSize: 48)
    let layout = ImageGridLayout(grid, title: "a title", width: 300, measure: m)
    #expect(layout.labelWidth >= layout.rowLabels.joined().map { m.textWidth($0, size: ImageGridLayout.labelSize) }.max()!)
    #expect(layout.captions[0][1].count > 1 && layout.captions.joined().joined().allSatisfy { m.textWidth($0, size: ImageGridLayout.textSize) <= 54 })
    #expect(layout.captionHeight >= Double(layout.captions[0][1].count) * ImageGridLayout.lineHeight)
    let figure = try Figure.images(grid, title: "a title long enough to wrap over the narrow grid of two cells")
    #expect(Double(figure.height) > layout.top + layout.headerHeight + 2 * layout.rowHeight)
    let png = try Image.decode(figure.png())
    #expect(png.width == figure.width && png.height == figure.height)
}

@Test func smallMultiplesDrawEveryPanel() throws {
    let panel = Plot([Series("x", style: .scatter, x: [0, 1], y: [1, 0], marker: .diamond),
                      Series("", style: .scatter, x: [0.5], y: [0.5], color: CategoryStyle.context, faint: true)])
    let figure = Figure(.panels([("first", panel), ("second", panel), ("third", panel)], columns: 2), title: "panels", width: 800, height: 600)
    let image = try Image.decode(figure.png())
    // The third panel (second row, first column) has its diamond: something non-white in that quarter.
    let quarter = (300..<600).flatMap { y in (0..<400).map { x in image[x, y] } }
    #expect(quarter.contains { Array($0.prefix(3)) != [255, 255, 255] })
    #expect(try figure.svg() == figure.svg())
}

/// Crowded and long text of every kind: nothing may reach the picture's edge (text running out
/// of the figure would leave ink on its outermost pixels).
private let crowded: [(String, Figure)] = {
    let names = (0..<30).map { "single_transformer_blocks.\($0).attn.to_out" }
    let long = ["background_color(green)+vignette(0.9)", "recolor_object(red)+blur(2)", "a", "tint(purple)"]
    let scatter = long.enumerated().map { i, name in Series(name, style: .scatter, x: [Double(i), Double(i) + 0.5], y: [1e5, -2e4]) }
    let n = 3, heat = (0..<(n * n)).map(Double.init)
    return [
        ("many categories", Figure(.plot(Plot([Series("", style: .bar, y: names.indices.map { Double($0) - 10 })], xLabel: "layer",
                                              yLabel: "a y label long enough to need a smaller font here", xCategories: names, legend: false)),
                                   title: "Bars over thirty layers whose names are long, under a title that is longer than the figure is wide",
                                   width: 420, height: 360)),
        ("long legend", Figure(.plot(Plot(scatter, xLabel: "PC 1", yLabel: "PC 2")), title: "scatter", width: 420, height: 300)),
        ("heatmap labels", Figure(.heatmap(Heatmap(heat, rows: n, columns: n, rowLabels: long.prefix(3).map { $0 }, columnLabels: ["x", "y", "z"],
                                                   colorbarLabel: "a colour bar label longer than the bar", range: -1e5...1e5)),
                                  title: "heat", width: 420, height: 300)),
        ("grid labels", try! Figure.images(ImageGrid([[Image(width: 4, height: 4, color: [0, 0, 0])]], captions: [[long[0]]],
                                                     header: [long[1]], rowLabels: [long[0] + " " + long[1]], cellSize: 40), title: long[0])),
    ]
}()

@Test(arguments: crowded.map(\.0))
func noTextReachesTheEdge(_ name: String) throws {
    let figure = crowded.first { $0.0 == name }!.1
    let image = try Image.decode(figure.png())
    let edge = (0..<image.width).flatMap { [($0, 0), ($0, 1), ($0, image.height - 2), ($0, image.height - 1)] }
        + (0..<image.height).flatMap { [(0, $0), (1, $0), (image.width - 2, $0), (image.width - 1, $0)] }
    let inked = edge.filter { Array(image[$0.0, $0.1].prefix(3)) != [255, 255, 255] }
    #expect(inked.isEmpty, "\(name): \(inked.count) edge pixels drawn, e.g. \(inked.prefix(3))")
}
