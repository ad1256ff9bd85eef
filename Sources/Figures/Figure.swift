import Foundation
import Formats

// Publication figures for the analysis commands, drawn by cairo so that one description renders
// to a PNG and to an SVG with real text. A figure is a value (what to show), not a sequence of
// drawing calls: the commands build it from their data and `write` picks the surface from the
// file extension.

/// An sRGB colour with components in 0...1.
public struct Color: Equatable, Sendable {
    public var red: Double, green: Double, blue: Double

    public init(_ red: Double, _ green: Double, _ blue: Double) {
        self.red = red; self.green = green; self.blue = blue
    }

    /// 0xRRGGBB.
    public init(hex v: UInt32) {
        self.init(Double(v >> 16 & 0xff) / 255, Double(v >> 8 & 0xff) / 255, Double(v & 0xff) / 255)
    }

    /// Tableau's 20 categorical colours (matplotlib's tab20 order, dark shades first), so that
    /// the first ten categories get the familiar tab10 colours.
    public static func category(_ index: Int) -> Color {
        let hex: [UInt32] = [0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
                             0xaec7e8, 0xffbb78, 0x98df8a, 0xff9896, 0xc5b0d5, 0xc49c94, 0xf7b6d2, 0xc7c7c7, 0xdbdb8d, 0x9edae5]
        return Color(hex: hex[((index % hex.count) + hex.count) % hex.count])
    }
}

/// The shape of a scatter point.
public enum Marker: CaseIterable, Sendable {
    case circle, square, triangle, diamond, triangleDown
}

/// Styles for categorical labels that stay distinguishable: 12 colours first (never the grey of
/// context points), then the same colours again with the next marker shape, `capacity` in all.
/// Beyond that a caller must group labels and say so; nothing is recycled silently.
public enum CategoryStyle {
    public static let colors: [Color] = [0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0xbcbd22, 0x17becf,
                                         0x393b79, 0x637939, 0x7b4173].map(Color.init(hex:))
    public static var capacity: Int { colors.count * Marker.allCases.count }
    /// The grey of points that are context, or of labels grouped as "other".
    public static let context = Color(0.78, 0.78, 0.78)

    /// The style of the `index`th label; nil at or beyond `capacity`.
    public static func style(_ index: Int) -> (color: Color, marker: Marker)? {
        guard index >= 0, index < capacity else { return nil }
        return (colors[index % colors.count], Marker.allCases[index / colors.count])
    }
}

/// One data series of a `Plot`.
public struct Series {
    public enum Style { case line, scatter, bar }
    public var name: String
    public var style: Style
    public var x: [Double]
    public var y: [Double]
    /// Default: the series' category colour.
    public var color: Color?
    /// The point shape of a scatter series.
    public var marker: Marker
    /// Draw a scatter series' points smaller and without outline (context behind the labelled points).
    public var faint = false

    public init(_ name: String, style: Style, x: [Double], y: [Double], color: Color? = nil, marker: Marker = .circle, faint: Bool = false) {
        precondition(x.count == y.count, "series \(name): \(x.count) x values, \(y.count) y values")
        self.name = name; self.style = style; self.x = x; self.y = y; self.color = color; self.marker = marker; self.faint = faint
    }

    /// y against 0, 1, 2, ...
    public init(_ name: String, style: Style, y: [Double], color: Color? = nil) {
        self.init(name, style: style, x: y.indices.map(Double.init), y: y, color: color)
    }
}

/// A line of a legend given explicitly: a swatch with its label, a heading, or a note.
public enum LegendItem {
    case entry(String, color: Color, style: Series.Style, marker: Marker)
    case heading(String)
    case note(String)
}

/// Axes with ticks and labels holding line, scatter and bar series, and a legend of the named ones.
public struct Plot {
    public var series: [Series]
    public var xLabel: String
    public var yLabel: String
    /// Logarithmic y axis (values <= 0 are left out).
    public var logY = false
    /// Category names at x = 0, 1, 2, ... instead of numeric x ticks (thinned when crowded).
    public var xCategories: [String]? = nil
    public var legend = true
    /// The legend's lines instead of one per named series.
    public var legendItems: [LegendItem]? = nil

    public init(_ series: [Series], xLabel: String = "", yLabel: String = "", logY: Bool = false,
                xCategories: [String]? = nil, legend: Bool = true, legendItems: [LegendItem]? = nil) {
        self.series = series; self.xLabel = xLabel; self.yLabel = yLabel; self.logY = logY
        self.xCategories = xCategories; self.legend = legend; self.legendItems = legendItems
    }
}

/// A matrix drawn as coloured cells, with a colour bar.
public struct Heatmap {
    public enum Scale { case sequential, diverging }
    public var values: [Double]      // rows x columns, row-major
    public var rows: Int, columns: Int
    public var rowLabels: [String]?
    public var columnLabels: [String]?
    public var xLabel: String, yLabel: String
    public var colorbarLabel: String
    /// Colour range; default: the data's range (symmetric about 0 when diverging).
    public var range: ClosedRange<Double>?
    public var scale: Scale

    public init(_ values: [Double], rows: Int, columns: Int, rowLabels: [String]? = nil, columnLabels: [String]? = nil,
                xLabel: String = "", yLabel: String = "", colorbarLabel: String = "", range: ClosedRange<Double>? = nil,
                scale: Scale = .sequential) {
        precondition(values.count == rows * columns, "heatmap: \(values.count) values for \(rows) x \(columns)")
        self.values = values; self.rows = rows; self.columns = columns; self.rowLabels = rowLabels
        self.columnLabels = columnLabels; self.xLabel = xLabel; self.yLabel = yLabel
        self.colorbarLabel = colorbarLabel; self.range = range; self.scale = scale
    }
}

/// Pictures in rows and columns (a filmstrip is one row), each with an optional caption below,
/// optional column headings above the first row and optional row labels on the left. Pictures are
/// enlarged by whole pixels, without smoothing. Text is wrapped to fit (a caption to its cell);
/// "\n" in a label starts a new line.
public struct ImageGrid {
    public var cells: [[Image?]]
    public var captions: [[String]]?
    public var header: [String]?
    public var rowLabels: [String]?
    /// Displayed size of one cell's picture (the largest picture is fitted into it).
    public var cellSize: Int

    public init(_ cells: [[Image?]], captions: [[String]]? = nil, header: [String]? = nil, rowLabels: [String]? = nil, cellSize: Int = 96) {
        self.cells = cells; self.captions = captions; self.header = header; self.rowLabels = rowLabels; self.cellSize = cellSize
    }
}

public struct Figure {
    public enum Panel {
        case plot(Plot)
        case heatmap(Heatmap)
        case images(ImageGrid)
        /// Small multiples: titled plots in rows of `columns`, each with its own axes and legend.
        case panels([(title: String, plot: Plot)], columns: Int)
    }

    public var panel: Panel
    public var title: String?
    public var width: Int, height: Int

    public init(_ panel: Panel, title: String? = nil, width: Int = 640, height: Int = 440) {
        self.panel = panel; self.title = title; self.width = width; self.height = height
    }

    /// An image grid sized to its cells and text.
    public static func images(_ grid: ImageGrid, title: String? = nil) throws -> Figure {
        let measure = try Canvas.measuring()
        // The title wraps to the grid's width, and the grid does not depend on the title's lines
        // except for where it starts: size the grid without a title first.
        let width = ImageGridLayout(grid, title: nil, width: 0, measure: measure).width
        let layout = ImageGridLayout(grid, title: title, width: Double(width), measure: measure)
        return Figure(.images(grid), title: title, width: layout.width, height: layout.height)
    }

    /// Writes a PNG or an SVG, by the extension of `path`, atomically.
    public func write(to path: String) throws {
        switch (path as NSString).pathExtension.lowercased() {
        case "png": try AtomicFile.write(try png(), to: path)
        case "svg": try AtomicFile.write(try svg(), to: path)
        default: throw FormatError(path, "figures are written as .png or .svg")
        }
    }

    /// Writes `stem.png` and `stem.svg`.
    public func write(stem: String) throws {
        try write(to: stem + ".png")
        try write(to: stem + ".svg")
    }
}

/// Where an image grid's pieces go, with its text already wrapped; shared by sizing and drawing.
struct ImageGridLayout {
    static let pad = 8.0, textSize = 11.0, labelSize = 12.0, lineHeight = 13.5, maxLabelWidth = 170.0
    let cell: Double, labelWidth: Double, top: Double, rows: Int, columns: Int
    /// Wrapped text: column headings, row labels, captions by row and column.
    let header: [[String]], rowLabels: [[String]], captions: [[[String]]]
    let headerHeight: Double, captionHeight: Double

    init(_ grid: ImageGrid, title: String?, width: Double, measure: Canvas) {
        let (cell, rows, columns) = (Double(grid.cellSize), grid.cells.count, grid.cells.map(\.count).max() ?? 0)
        (self.cell, self.rows, self.columns) = (cell, rows, columns)
        let textWidth = cell + Self.pad - 2
        let header = (grid.header ?? []).prefix(columns).map { measure.wrap($0, size: Self.textSize, width: textWidth, bold: true) }
        let rowLabels = (grid.rowLabels ?? []).prefix(rows).map { measure.wrap($0, size: Self.labelSize, width: Self.maxLabelWidth) }
        let captions = (grid.captions ?? []).prefix(rows).map { $0.prefix(columns).map { measure.wrap($0, size: Self.textSize, width: textWidth) } }
        (self.header, self.rowLabels, self.captions) = (header, rowLabels, captions)
        labelWidth = grid.rowLabels == nil ? 0 : 8 + (rowLabels.map { measure.width(of: $0, size: Self.labelSize) }.max() ?? 0)
        let headerLines = header.map(\.count).max() ?? 0, captionLines = captions.joined().map(\.count).max() ?? 0
        headerHeight = headerLines == 0 ? 0 : Double(headerLines) * Self.lineHeight + 6
        captionHeight = grid.captions == nil ? 0 : 4 + Double(max(captionLines, 1)) * Self.lineHeight
        top = TitleBlock(title, width: width, measure: measure).height - (title == nil ? 12 : 4)
    }

    var rowHeight: Double { cell + Self.pad + captionHeight }
    var width: Int { Int((labelWidth + Double(columns) * (cell + Self.pad) + Self.pad).rounded(.up)) }
    var height: Int { Int((top + headerHeight + Double(rows) * rowHeight + Self.pad).rounded(.up)) }
    func origin(row: Int, column: Int) -> (x: Double, y: Double) {
        (labelWidth + Self.pad + Double(column) * (cell + Self.pad), top + headerHeight + Self.pad + Double(row) * rowHeight)
    }
}
