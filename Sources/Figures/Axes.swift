import CCairo
import Foundation

// Axes, ticks, legends and colour bars.

typealias Frame = (x: Double, y: Double, width: Double, height: Double)

/// Round tick positions: steps of 1, 2 or 5 times a power of ten, about `count` of them.
func niceTicks(_ lo: Double, _ hi: Double, count: Int = 6) -> [Double] {
    guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
    let raw = (hi - lo) / Double(count)
    let power = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
    var ticks: [Double] = []
    var t = ceil(lo / step - 1e-9) * step
    while t <= hi + step * 1e-9 {
        ticks.append(abs(t) < step * 1e-9 ? 0 : t)
        t += step
    }
    return ticks
}

/// A tick label: short, without trailing zeros.
func tickLabel(_ v: Double) -> String {
    if v == 0 { return "0" }
    let a = abs(v)
    if a >= 1e5 || a < 1e-3 { return String(format: "%.0e", v) }
    var s = String(format: a >= 100 ? "%.0f" : a >= 1 ? "%.2f" : "%.3f", v)
    if s.contains(".") {
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
    }
    return s
}

/// The data range padded by 4% (a flat range is widened to show something).
func paddedRange(_ values: [Double]) -> (Double, Double) {
    guard let lo = values.min(), let hi = values.max() else { return (0, 1) }
    if hi == lo { return (lo - max(abs(lo) * 0.1, 0.5), hi + max(abs(hi) * 0.1, 0.5)) }
    let pad = (hi - lo) * 0.04
    return (lo - pad, hi + pad)
}

/// A legend's lines wrapped to fit: what `PlotRenderer` reserves room for and draws.
struct LegendLayout {
    static let size = 10.5, lineHeight = 13.5, gap = 3.0, swatch = 22.0
    let rows: [(item: LegendItem, lines: [String])]
    let width: Double

    /// `items` with labels wrapped at `maxWidth`; when they are taller than `height`, the last
    /// ones are left out and a final note says how many.
    init(_ items: [LegendItem], maxWidth: Double, height: Double, measure: Canvas) {
        func wrapped(_ item: LegendItem) -> (item: LegendItem, lines: [String]) {
            switch item {
            case .entry(let name, _, _, _): return (item, measure.wrap(name, size: Self.size, width: maxWidth))
            case .heading(let text): return (item, measure.wrap(text, size: Self.size, width: maxWidth + Self.swatch, bold: true))
            case .note(let text): return (item, measure.wrap(text, size: Self.size, width: maxWidth + Self.swatch))
            }
        }
        var rows = items.map(wrapped)
        func total(_ r: [(item: LegendItem, lines: [String])]) -> Double { r.reduce(0) { $0 + Self.height(of: $1) } }
        if total(rows) > height {
            let entries = rows.count
            while rows.count > 0 && total(rows) + 2 * Self.lineHeight > height { rows.removeLast() }
            rows.append(wrapped(.note("+ \(entries - rows.count) more, not shown")))
        }
        self.rows = rows
        width = rows.isEmpty ? 0 : rows.map { row -> Double in
            if case .entry = row.item { return Self.swatch + measure.width(of: row.lines, size: Self.size) }
            if case .heading = row.item { return measure.width(of: row.lines, size: Self.size, bold: true) }
            return measure.width(of: row.lines, size: Self.size)
        }.max()! + 4
    }

    static func height(of row: (item: LegendItem, lines: [String])) -> Double {
        let top: Double = if case .heading = row.item { 4 } else { 0 }
        return top + Double(row.lines.count) * lineHeight + gap
    }

    func draw(_ c: Canvas, x: Double, y: Double) {
        var y = y
        for row in rows {
            switch row.item {
            case .entry(_, let color, let style, let marker):
                switch style {
                case .line: c.line([(x, y - 4), (x + 16, y - 4)], color, width: 2)
                case .scatter: c.marker(marker, x + 8, y - 4, radius: 3.5, color)
                case .bar: c.fill(x + 2, y - 9, 12, 10, color)
                }
                c.lines(row.lines, x: x + Self.swatch, y: y, size: Self.size, lineHeight: Self.lineHeight)
            case .heading:
                c.lines(row.lines, x: x, y: y + 4, size: Self.size, lineHeight: Self.lineHeight, bold: true)
            case .note:
                c.lines(row.lines, x: x, y: y, size: Self.size, lineHeight: Self.lineHeight, color: Color(0.42, 0.42, 0.42))
            }
            y += Self.height(of: row)
        }
    }
}

struct PlotRenderer {
    let plot: Plot
    let canvas: Canvas
    /// Where text is measured (the same surface for PNG and SVG, so both lay out alike).
    let measure: Canvas
    static let axisColor = Color(0.2, 0.2, 0.2), gridColor = Color(0.9, 0.9, 0.9)
    static let tickSize = 10.5, labelSize = 12.0

    /// The legend: the plot's own items, else one line per named series (with a note when the
    /// default colours, 20 of them, repeat).
    var legendItems: [LegendItem] {
        guard plot.legend else { return [] }
        if let items = plot.legendItems { return items }
        var items: [LegendItem] = plot.series.enumerated().filter { !$0.element.name.isEmpty }.map { i, s in
            .entry(s.name, color: s.color ?? Color.category(i), style: s.style, marker: s.marker)
        }
        if plot.series.enumerated().contains(where: { $0.offset >= 20 && !$0.element.name.isEmpty && $0.element.color == nil }) {
            items.append(.note("colours repeat after 20 series"))
        }
        return items
    }

    /// Draws into `frame` (x, y, width, height): margins are measured from the tick labels, the
    /// axis labels and the legend, so that no text leaves the frame.
    func draw(frame: Frame) {
        let c = canvas, m = measure
        let bottomEdge = frame.y + frame.height

        // Value ranges (bars reach down to 0).
        let transform: (Double) -> Double = plot.logY ? { log10($0) } : { $0 }
        let xs = plot.series.flatMap(\.x)
        let hasBars = plot.series.contains { $0.style == .bar }
        var ys: [Double] = plot.series.flatMap { s in s.y.filter { !plot.logY || $0 > 0 }.map(transform) }
        if hasBars && !plot.logY { ys.append(0) }
        var (x0, x1) = paddedRange(xs)
        if hasBars || plot.xCategories != nil {
            (x0, x1) = ((xs.min() ?? 0) - 0.6, (xs.max() ?? 0) + 0.6)
        }
        var (y0, y1) = paddedRange(ys)
        if hasBars && !plot.logY && (ys.min() ?? 0) >= 0 { y0 = 0 }
        if plot.logY { (y0, y1) = (floor(y0 * 10) / 10, ceil(y1 * 10) / 10) }

        // y ticks first: their labels' width sets the left margin.
        let yTicks: [(Double, String)]
        if plot.logY {
            let decades = Int(floor(y0))...Int(ceil(y1))
            var t: [(Double, String)] = []
            let mantissas: [Double] = decades.count <= 3 ? [1, 2, 5] : [1]
            for d in decades { for mantissa in mantissas {
                let v = log10(mantissa) + Double(d)
                if v >= y0 && v <= y1 { t.append((v, tickLabel(mantissa * pow(10, Double(d))))) }
            } }
            yTicks = t
        } else {
            yTicks = niceTicks(y0, y1).filter { $0 >= y0 && $0 <= y1 }.map { ($0, tickLabel($0)) }
        }
        let tickWidth = yTicks.map { m.textWidth($0.1, size: Self.tickSize) }.max() ?? 0
        let yLabelRoom = plot.yLabel.isEmpty ? 0.0 : 20
        var left = 8 + yLabelRoom + tickWidth + 8

        // The legend on the right, as tall as the axes.
        let xLabelRoom = plot.xLabel.isEmpty ? 4.0 : 24
        let legend = LegendLayout(legendItems, maxWidth: max(110, min(230, frame.width * 0.3)), height: frame.height - 6 - 22 - xLabelRoom, measure: m)
        let legendRoom = legend.width > 0 ? legend.width + 14 : 0

        // Room below: numeric tick labels, or category labels, turned 45 degrees when they do not
        // fit side by side (then they reach down and to the left of their tick).
        var below = 22 + xLabelRoom, rotate = false
        if let categories = plot.xCategories {
            let widest = categories.map { m.textWidth($0, size: 10) }.max() ?? 0
            let slot = (frame.width - left - 16 - legendRoom) / Double(max(categories.count, 1))
            rotate = widest + 4 > slot
            if rotate {
                let turned = (categories.map { m.textWidth($0, size: 9) }.max() ?? 0) * 0.71
                below = 12 + turned + xLabelRoom
                left = max(left, turned - 4)
            }
        }
        let box: Frame = (frame.x + left, frame.y + 6, frame.width - left - 16 - legendRoom, frame.height - 6 - below)
        func px(_ x: Double) -> Double { box.x + (x - x0) / (x1 - x0) * box.width }
        func py(_ y: Double) -> Double { box.y + box.height - (y - y0) / (y1 - y0) * box.height }

        for (v, label) in yTicks {
            c.line([(box.x, py(v)), (box.x + box.width, py(v))], Self.gridColor, width: 0.8)
            c.line([(box.x - 4, py(v)), (box.x, py(v))], Self.axisColor, width: 1)
            c.text(label, x: box.x - 7, y: py(v) + 4, size: Self.tickSize, align: .right)
        }
        // x ticks: categories (thinned to fit) or numbers.
        if let categories = plot.xCategories {
            let every = rotate ? max(1, Int(ceil(Double(categories.count) * 13 / max(box.width, 1)))) : 1
            for (i, name) in categories.enumerated() where i % every == 0 {
                let x = px(Double(i))
                c.line([(x, box.y + box.height), (x, box.y + box.height + 4)], Self.axisColor, width: 1)
                if rotate {
                    c.text(name, x: x + 3, y: box.y + box.height + 8, size: 9, align: .right, angle: -.pi / 4)
                } else {
                    c.text(name, x: x, y: box.y + box.height + 17, size: 10, align: .center)
                }
            }
        } else {
            for v in niceTicks(x0, x1) where v >= x0 && v <= x1 {
                c.line([(px(v), box.y), (px(v), box.y + box.height)], Self.gridColor, width: 0.8)
                c.line([(px(v), box.y + box.height), (px(v), box.y + box.height + 4)], Self.axisColor, width: 1)
                c.text(tickLabel(v), x: px(v), y: box.y + box.height + 17, size: Self.tickSize, align: .center)
            }
        }

        // Data, clipped to the axes; faint (context) series first.
        cairo_save(c.cr)
        cairo_rectangle(c.cr, box.x, box.y, box.width, box.height)
        cairo_clip(c.cr)
        let bars = plot.series.filter { $0.style == .bar }.count
        var barIndex = 0
        for (i, s) in plot.series.enumerated().sorted(by: { ($0.element.faint ? 0 : 1, $0.offset) < ($1.element.faint ? 0 : 1, $1.offset) }) {
            let color = s.color ?? Color.category(i)
            let points = zip(s.x, s.y).filter { !plot.logY || $0.1 > 0 }.map { (px($0.0), py(transform($0.1))) }
            switch s.style {
            case .line: c.line(points, color, width: s.faint ? 0.7 : 1.6)
            case .scatter: for p in points { c.marker(s.marker, p.0, p.1, radius: s.faint ? 2.2 : 3.2, color, faint: s.faint) }
            case .bar:
                let slot = (px(1) - px(0)) * 0.8
                let w = slot / Double(bars)
                let base = plot.logY ? box.y + box.height : py(max(y0, 0))
                for p in points {
                    let left = p.0 - slot / 2 + Double(barIndex) * w
                    c.fill(left, min(p.1, base), max(w - 0.5, 0.5), abs(base - p.1), color)
                }
                barIndex += 1
            }
        }
        cairo_restore(c.cr)
        c.strokeRect(box.x, box.y, box.width, box.height, Self.axisColor, width: 1)

        // Axis labels, smaller when longer than their axis.
        if !plot.xLabel.isEmpty {
            let size = fitted(plot.xLabel, Self.labelSize, into: box.width)
            c.text(plot.xLabel, x: box.x + box.width / 2, y: bottomEdge - 8, size: size, align: .center)
        }
        if !plot.yLabel.isEmpty {
            let size = fitted(plot.yLabel, Self.labelSize, into: box.height)
            c.text(plot.yLabel, x: frame.x + 18, y: box.y + box.height / 2, size: size, align: .center, angle: -.pi / 2)
        }
        legend.draw(c, x: box.x + box.width + 14, y: box.y + 8)
    }

    /// The font size at which `text` fits `width`: `size`, or smaller down to 8.
    func fitted(_ text: String, _ size: Double, into width: Double) -> Double {
        let w = measure.textWidth(text, size: size)
        return w <= width ? size : max(8, size * width / w)
    }
}

/// Small multiples: titled plots in a grid of `columns`, each drawn by `PlotRenderer`.
struct PanelGrid {
    static let titleSize = 12.5
    let panels: [(title: String, plot: Plot)]
    let columns: Int

    func draw(_ c: Canvas, measure: Canvas, frame: Frame) {
        let columns = max(1, min(columns, panels.count)), rows = (panels.count + columns - 1) / columns
        let (w, h) = (frame.width / Double(columns), frame.height / Double(max(rows, 1)))
        for (i, panel) in panels.enumerated() {
            let (x, y) = (frame.x + Double(i % columns) * w, frame.y + Double(i / columns) * h)
            let lines = measure.wrap(panel.title, size: Self.titleSize, width: w - 16, bold: true)
            c.lines(lines, x: x + w / 2, y: y + 14, size: Self.titleSize, lineHeight: 15, align: .center, bold: true)
            let top = 8 + 15 * Double(lines.count)
            PlotRenderer(plot: panel.plot, canvas: c, measure: measure).draw(frame: (x, y + top, w, h - top))
        }
    }
}

/// Colour maps: viridis (sequential) and a blue-white-red diverging map, piecewise linear.
func colormap(_ t: Double, _ scale: Heatmap.Scale) -> Color {
    let stops: [(Double, Double, Double)] = scale == .sequential
        ? [(0.267, 0.005, 0.329), (0.283, 0.141, 0.458), (0.254, 0.265, 0.530), (0.207, 0.372, 0.553), (0.164, 0.471, 0.558),
           (0.128, 0.567, 0.551), (0.135, 0.659, 0.518), (0.267, 0.749, 0.441), (0.478, 0.821, 0.318), (0.741, 0.873, 0.150),
           (0.993, 0.906, 0.144)]
        : [(0.019, 0.188, 0.380), (0.129, 0.400, 0.674), (0.263, 0.576, 0.765), (0.573, 0.773, 0.871), (0.820, 0.898, 0.941),
           (0.969, 0.969, 0.969), (0.992, 0.859, 0.780), (0.957, 0.647, 0.510), (0.839, 0.376, 0.302), (0.698, 0.094, 0.169),
           (0.404, 0.0, 0.122)]
    let u = min(max(t.isFinite ? t : 0, 0), 1) * Double(stops.count - 1)
    let i = min(Int(u), stops.count - 2), f = u - Double(i)
    let (a, b) = (stops[i], stops[i + 1])
    return Color(a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
}

struct HeatmapRenderer {
    let map: Heatmap
    let canvas: Canvas
    let measure: Canvas

    /// Draws into `frame` (x, y, width, height); the colour bar's tick labels and label are
    /// measured so that they stay inside it.
    func draw(frame: Frame) {
        let c = canvas, m = measure
        let finite = map.values.filter(\.isFinite)
        var (lo, hi) = (finite.min() ?? 0, finite.max() ?? 1)
        if map.scale == .diverging { let v = max(abs(lo), abs(hi), 1e-12); (lo, hi) = (-v, v) }
        if let range = map.range { (lo, hi) = (range.lowerBound, range.upperBound) }
        if hi <= lo { hi = lo + 1 }
        let barTicks = niceTicks(lo, hi, count: 5).filter { $0 >= lo && $0 <= hi }
        let barTickWidth = barTicks.map { m.textWidth(tickLabel($0), size: 9.5) }.max() ?? 0

        let rowLabelWidth = (map.rowLabels?.map { m.textWidth($0, size: 9.5) }.max() ?? 0) + (map.yLabel.isEmpty ? 0 : 22)
        let left = frame.x + max(40, rowLabelWidth + 12)
        let right = 18 + 14 + 7 + barTickWidth + (map.colorbarLabel.isEmpty ? 0 : 22) + 8
        let available = (width: frame.x + frame.width - left - right, height: frame.height - 4 - 46)
        let cell = min(available.width / Double(map.columns), available.height / Double(map.rows))
        let box: Frame = (left, frame.y + 4, cell * Double(map.columns), cell * Double(map.rows))
        for r in 0..<map.rows { for col in 0..<map.columns {
            let v = map.values[r * map.columns + col]
            // Cells overlap by a hair so that no background seams show between them.
            c.fill(box.x + Double(col) * cell, box.y + Double(r) * cell, cell + 0.3, cell + 0.3, colormap((v - lo) / (hi - lo), map.scale))
        } }
        c.strokeRect(box.x, box.y, box.width, box.height, PlotRenderer.axisColor, width: 1)

        // Labels: all when they fit, else every k-th.
        let every = max(1, Int(ceil(12.0 / cell)))
        if let labels = map.rowLabels {
            for (r, l) in labels.enumerated() where r % every == 0 {
                c.text(l, x: box.x - 5, y: box.y + (Double(r) + 0.5) * cell + 3.5, size: 9.5, align: .right)
            }
        }
        if let labels = map.columnLabels {
            for (col, l) in labels.enumerated() where col % every == 0 {
                c.text(l, x: box.x + (Double(col) + 0.5) * cell, y: box.y + box.height + 13, size: 9.5, align: .center)
            }
        }
        if !map.xLabel.isEmpty { c.text(map.xLabel, x: box.x + box.width / 2, y: box.y + box.height + 32, size: 12, align: .center) }
        if !map.yLabel.isEmpty {
            c.text(map.yLabel, x: frame.x + 14, y: box.y + box.height / 2, size: 12, align: .center, angle: -.pi / 2)
        }

        // Colour bar with ticks.
        let bar: Frame = (box.x + box.width + 18, box.y, 14, box.height)
        let steps = 100
        for i in 0..<steps {
            let t = Double(i) / Double(steps)
            c.fill(bar.x, bar.y + bar.height * (1 - t - 1.0 / Double(steps)), bar.width, bar.height / Double(steps) + 0.4, colormap(t + 0.5 / Double(steps), map.scale))
        }
        c.strokeRect(bar.x, bar.y, bar.width, bar.height, PlotRenderer.axisColor, width: 0.8)
        for v in barTicks {
            let y = bar.y + bar.height * (1 - (v - lo) / (hi - lo))
            c.line([(bar.x + bar.width, y), (bar.x + bar.width + 4, y)], PlotRenderer.axisColor, width: 1)
            c.text(tickLabel(v), x: bar.x + bar.width + 7, y: y + 3.5, size: 9.5)
        }
        if !map.colorbarLabel.isEmpty {
            let size = min(11, 11 * bar.height / max(m.textWidth(map.colorbarLabel, size: 11), 1))
            c.text(map.colorbarLabel, x: bar.x + bar.width + 7 + barTickWidth + 10, y: bar.y + bar.height / 2, size: size, align: .center, angle: .pi / 2)
        }
    }
}
