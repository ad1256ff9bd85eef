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

    /// Tableau's 20 categorical colours (matplotlib's tab20 order, dark shades first), so that
    /// the first ten categories get the familiar tab10 colours.
    public static func category(_ index: Int) -> Color {
        let hex: [UInt32] = [0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
                             0xaec7e8, 0xffbb78, 0x98df8a, 0xff9896, 0xc5b0d5, 0xc49c94, 0xf7b6d2, 0xc7c7c7, 0xdbdb8d, 0x9edae5]
        let v = hex[((index % hex.count) + hex.count) % hex.count]
        return Color(Double(v >> 16 & 0xff) / 255, Double(v >> 8 & 0xff) / 255, Double(v & 0xff) / 255)
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

    public init(_ name: String, style: Style, x: [Double], y: [Double], color: Color? = nil) {
        precondition(x.count == y.count, "series \(name): \(x.count) x values, \(y.count) y values")
        self.name = name; self.style = style; self.x = x; self.y = y; self.color = color
    }

    /// y against 0, 1, 2, ...
    public init(_ name: String, style: Style, y: [Double], color: Color? = nil) {
        self.init(name, style: style, x: y.indices.map(Double.init), y: y, color: color)
    }
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

    public init(_ series: [Series], xLabel: String = "", yLabel: String = "", logY: Bool = false,
                xCategories: [String]? = nil, legend: Bool = true) {
        self.series = series; self.xLabel = xLabel; self.yLabel = yLabel; self.logY = logY
        self.xCategories = xCategories; self.legend = legend
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
/// plus optional row labels on the left. Pictures are enlarged by whole pixels, without smoothing.
public struct ImageGrid {
    public var cells: [[Image?]]
    public var captions: [[String]]?
    public var rowLabels: [String]?
    /// Displayed size of one cell's picture (the largest picture is fitted into it).
    public var cellSize: Int

    public init(_ cells: [[Image?]], captions: [[String]]? = nil, rowLabels: [String]? = nil, cellSize: Int = 96) {
        self.cells = cells; self.captions = captions; self.rowLabels = rowLabels; self.cellSize = cellSize
    }
}

public struct Figure {
    public enum Panel {
        case plot(Plot)
        case heatmap(Heatmap)
        case images(ImageGrid)
    }

    public var panel: Panel
    public var title: String?
    public var width: Int, height: Int

    public init(_ panel: Panel, title: String? = nil, width: Int = 640, height: Int = 440) {
        self.panel = panel; self.title = title; self.width = width; self.height = height
    }

    /// An image grid sized to its cells.
    public static func images(_ grid: ImageGrid, title: String? = nil) -> Figure {
        let columns = grid.cells.map(\.count).max() ?? 0
        let layout = ImageGridLayout(grid, title: title != nil, columns: columns)
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

/// Where an image grid's pieces go; shared by sizing and drawing.
struct ImageGridLayout {
    static let pad = 8.0, captionHeight = 18.0, titleHeight = 30.0
    let cell: Double, labelWidth: Double, top: Double, rows: Int, columns: Int, captioned: Bool

    init(_ grid: ImageGrid, title: Bool, columns: Int) {
        cell = Double(grid.cellSize)
        rows = grid.cells.count
        self.columns = columns
        captioned = grid.captions != nil
        labelWidth = grid.rowLabels == nil ? 0 : min(180, 8 + 7.0 * Double(grid.rowLabels!.map(\.count).max() ?? 0))
        top = title ? Self.titleHeight : 0
    }

    var rowHeight: Double { cell + Self.pad + (captioned ? Self.captionHeight : 0) }
    var width: Int { Int((labelWidth + Double(columns) * (cell + Self.pad) + Self.pad).rounded(.up)) }
    var height: Int { Int((top + Double(rows) * rowHeight + Self.pad).rounded(.up)) }
    func origin(row: Int, column: Int) -> (x: Double, y: Double) {
        (labelWidth + Self.pad + Double(column) * (cell + Self.pad), top + Self.pad + Double(row) * rowHeight)
    }
}
