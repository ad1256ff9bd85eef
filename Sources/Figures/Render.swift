import CCairo
import Foundation
import Formats

// Drawing with cairo. The same `draw` runs on an image surface (PNG) and on an SVG surface;
// both stream into memory so that the file appears atomically. Text uses cairo's toy font API
// (fontconfig's default sans), which both surfaces render as real glyphs.

extension Figure {
    public func png() throws -> Data {
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)) else {
            throw FormatError("<figure>", "cairo could not create a \(width)x\(height) image")
        }
        defer { cairo_surface_destroy(surface) }
        try draw(on: surface)
        let sink = ByteSink()
        let status = cairo_surface_write_to_png_stream(surface, ByteSink.write, Unmanaged.passUnretained(sink).toOpaque())
        guard status == CAIRO_STATUS_SUCCESS else { throw FormatError("<figure>", "cairo PNG encoding failed: \(String(cString: cairo_status_to_string(status)))") }
        return sink.data
    }

    public func svg() throws -> Data {
        let sink = ByteSink()
        guard let surface = cairo_svg_surface_create_for_stream(ByteSink.write, Unmanaged.passUnretained(sink).toOpaque(),
                                                               Double(width), Double(height)) else {
            throw FormatError("<figure>", "cairo could not create an SVG surface")
        }
        try draw(on: surface)
        cairo_surface_finish(surface)
        let status = cairo_surface_status(surface)
        cairo_surface_destroy(surface)
        guard status == CAIRO_STATUS_SUCCESS else { throw FormatError("<figure>", "cairo SVG output failed: \(String(cString: cairo_status_to_string(status)))") }
        return Self.renumberingIDs(sink.data)
    }

    /// cairo names SVG elements after process-wide surface and pattern counters (`surface6`,
    /// `image12`), so the same figure would come out differently depending on what was drawn
    /// before it. Renumbering each kind in order of appearance makes the bytes depend on the
    /// figure alone.
    static func renumberingIDs(_ data: Data) -> Data {
        guard let text = String(data: data, encoding: .utf8),
              let pattern = try? NSRegularExpression(pattern: "\\b(surface|image|source|pattern|clip|mask)([0-9]+)\\b") else { return data }
        var numbers: [String: Int] = [:], counts: [String: Int] = [:]
        var out = "", last = text.startIndex
        for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let whole = Range(m.range, in: text)!, kind = String(text[Range(m.range(at: 1), in: text)!])
            let key = String(text[whole])
            let number = numbers[key] ?? {
                counts[kind, default: 0] += 1
                numbers[key] = counts[kind]!
                return counts[kind]!
            }()
            out += text[last..<whole.lowerBound] + kind + String(number)
            last = whole.upperBound
        }
        out += text[last...]
        return Data(out.utf8)
    }

    private func draw(on surface: OpaquePointer) throws {
        guard let cr = cairo_create(surface) else { throw FormatError("<figure>", "cairo_create failed") }
        defer { cairo_destroy(cr) }
        let c = Canvas(cr)
        // Layout is measured on one kind of surface for both outputs, so the PNG and the SVG agree.
        let measure = try Canvas.measuring()
        c.fill(0, 0, Double(width), Double(height), Color(1, 1, 1))
        let top = TitleBlock(title, width: Double(width), measure: measure)
        top.draw(c, width: Double(width))
        let frame: Frame = (0, top.height, Double(width), Double(height) - top.height)
        switch panel {
        case .plot(let p): PlotRenderer(plot: p, canvas: c, measure: measure).draw(frame: frame)
        case .heatmap(let h): HeatmapRenderer(map: h, canvas: c, measure: measure).draw(frame: frame)
        case .images(let g): try drawImages(g, canvas: c, measure: measure)
        case .panels(let panels, let columns): PanelGrid(panels: panels, columns: columns).draw(c, measure: measure, frame: frame)
        }
        let status = cairo_status(cr)
        guard status == CAIRO_STATUS_SUCCESS else { throw FormatError("<figure>", "cairo drawing failed: \(String(cString: cairo_status_to_string(status)))") }
    }

    private func drawImages(_ grid: ImageGrid, canvas c: Canvas, measure: Canvas) throws {
        let layout = ImageGridLayout(grid, title: title, width: Double(width), measure: measure)
        for (col, lines) in layout.header.enumerated() {
            c.lines(lines, x: layout.origin(row: 0, column: col).x + layout.cell / 2, y: layout.top + 14, size: ImageGridLayout.textSize,
                    lineHeight: ImageGridLayout.lineHeight, align: .center, bold: true)
        }
        for (r, row) in grid.cells.enumerated() {
            if r < layout.rowLabels.count {
                let lines = layout.rowLabels[r]
                let middle = layout.origin(row: r, column: 0).y + layout.cell / 2
                c.lines(lines, x: layout.labelWidth, y: middle + 4 - Double(lines.count - 1) * ImageGridLayout.lineHeight / 2,
                        size: ImageGridLayout.labelSize, lineHeight: ImageGridLayout.lineHeight, align: .right)
            }
            for (col, image) in row.enumerated() {
                let (x, y) = layout.origin(row: r, column: col)
                if let image { try c.image(image, x: x, y: y, box: layout.cell) }
                if r < layout.captions.count, col < layout.captions[r].count {
                    c.lines(layout.captions[r][col], x: x + layout.cell / 2, y: y + layout.cell + 14, size: ImageGridLayout.textSize,
                            lineHeight: ImageGridLayout.lineHeight, align: .center)
                }
            }
        }
    }
}

/// A figure's title, wrapped to the figure's width: its lines and the height it takes (a margin
/// when there is no title).
struct TitleBlock {
    static let size = 15.0, lineHeight = 19.0
    let lines: [String]

    init(_ title: String?, width: Double, measure: Canvas) {
        lines = title.map { measure.wrap($0, size: Self.size, width: width - 24, bold: true) } ?? []
    }

    var height: Double { lines.isEmpty ? 12 : 15 + Double(lines.count) * Self.lineHeight }

    func draw(_ c: Canvas, width: Double) {
        c.lines(lines, x: width / 2, y: 20, size: Self.size, lineHeight: Self.lineHeight, align: .center, bold: true)
    }
}

/// Collects what cairo streams out.
final class ByteSink {
    var data = Data()

    static let write: cairo_write_func_t = { closure, bytes, length in
        let sink = Unmanaged<ByteSink>.fromOpaque(closure!).takeUnretainedValue()
        if let bytes { sink.data.append(bytes, count: Int(length)) }
        return CAIRO_STATUS_SUCCESS
    }
}

/// Thin helpers over a cairo context.
final class Canvas {
    enum Align { case left, center, right }
    let cr: OpaquePointer
    /// The surface a measuring canvas owns (nil when the caller owns the context).
    private let surface: OpaquePointer?

    init(_ cr: OpaquePointer) { self.cr = cr; surface = nil }

    private init(owning surface: OpaquePointer, _ cr: OpaquePointer) { self.cr = cr; self.surface = surface }

    /// A canvas on a 1 x 1 image surface, for measuring text before anything is drawn.
    static func measuring() throws -> Canvas {
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1) else { throw FormatError("<figure>", "cairo could not create a surface") }
        guard let cr = cairo_create(surface) else {
            cairo_surface_destroy(surface)
            throw FormatError("<figure>", "cairo_create failed")
        }
        return Canvas(owning: surface, cr)
    }

    deinit {
        if let surface {
            cairo_destroy(cr)
            cairo_surface_destroy(surface)
        }
    }

    func color(_ c: Color, alpha: Double = 1) { cairo_set_source_rgba(cr, c.red, c.green, c.blue, alpha) }

    func fill(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ c: Color) {
        color(c)
        cairo_rectangle(cr, x, y, w, h)
        cairo_fill(cr)
    }

    func strokeRect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ c: Color, width: Double = 1) {
        color(c)
        cairo_set_line_width(cr, width)
        cairo_rectangle(cr, x, y, w, h)
        cairo_stroke(cr)
    }

    func line(_ points: [(Double, Double)], _ c: Color, width: Double = 1.5) {
        guard let first = points.first else { return }
        color(c)
        cairo_set_line_width(cr, width)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_move_to(cr, first.0, first.1)
        for p in points.dropFirst() { cairo_line_to(cr, p.0, p.1) }
        cairo_stroke(cr)
    }

    /// A scatter point of `marker` shape and about `radius` in size, white-rimmed unless faint.
    func marker(_ marker: Marker, _ x: Double, _ y: Double, radius r: Double, _ c: Color, faint: Bool = false) {
        color(c, alpha: faint ? 0.7 : 0.85)
        cairo_new_sub_path(cr)
        switch marker {
        case .circle: cairo_arc(cr, x, y, r, 0, 2 * .pi)
        case .square: cairo_rectangle(cr, x - 0.9 * r, y - 0.9 * r, 1.8 * r, 1.8 * r)
        case .triangle, .triangleDown:
            let s: Double = marker == .triangle ? 1 : -1
            cairo_move_to(cr, x, y - s * 1.25 * r)
            cairo_line_to(cr, x + 1.1 * r, y + s * 0.75 * r)
            cairo_line_to(cr, x - 1.1 * r, y + s * 0.75 * r)
            cairo_close_path(cr)
        case .diamond:
            cairo_move_to(cr, x, y - 1.3 * r)
            cairo_line_to(cr, x + 1.1 * r, y)
            cairo_line_to(cr, x, y + 1.3 * r)
            cairo_line_to(cr, x - 1.1 * r, y)
            cairo_close_path(cr)
        }
        if faint { cairo_fill(cr); return }
        cairo_fill_preserve(cr)
        cairo_set_line_width(cr, 0.6)
        color(Color(1, 1, 1), alpha: 0.9)
        cairo_stroke(cr)
    }

    private func font(_ size: Double, bold: Bool) {
        cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }

    func textWidth(_ s: String, size: Double, bold: Bool = false) -> Double {
        font(size, bold: bold)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, s, &e)
        return e.x_advance
    }

    /// Text with its baseline at y; `angle` in radians (counter-clockwise turns are negative).
    func text(_ s: String, x: Double, y: Double, size: Double, align: Align = .left, bold: Bool = false,
              angle: Double = 0, color c: Color = Color(0.1, 0.1, 0.1)) {
        let w = textWidth(s, size: size, bold: bold)
        let dx = align == .left ? 0 : align == .center ? -w / 2 : -w
        cairo_save(cr)
        color(c)
        cairo_translate(cr, x, y)
        cairo_rotate(cr, angle)
        cairo_move_to(cr, dx, 0)
        cairo_show_text(cr, s)
        cairo_restore(cr)
    }

    /// Lines of text, the first baseline at y.
    func lines(_ lines: [String], x: Double, y: Double, size: Double, lineHeight: Double, align: Align = .left, bold: Bool = false,
               color c: Color = Color(0.1, 0.1, 0.1)) {
        for (i, line) in lines.enumerated() { text(line, x: x, y: y + Double(i) * lineHeight, size: size, align: align, bold: bold, color: c) }
    }

    /// `s` in lines no wider than `width`: broken at newlines, then after a space, "+", "_", ",",
    /// "/" or "-" or before "(" where it can be, else between characters. Nothing is dropped.
    func wrap(_ s: String, size: Double, width: Double, bold: Bool = false) -> [String] {
        var out: [String] = []
        for paragraph in s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            var tokens: [String] = [], token = ""
            for ch in paragraph {
                if ch == "(" && !token.isEmpty { tokens.append(token); token = "" }
                token.append(ch)
                if " +_,/-".contains(ch) { tokens.append(token); token = "" }
            }
            if !token.isEmpty || tokens.isEmpty { tokens.append(token) }
            var line = ""
            func fits(_ t: String) -> Bool { textWidth(t.trimmingCharacters(in: .whitespaces), size: size, bold: bold) <= width }
            for t in tokens {
                if fits(line + t) { line += t; continue }
                if !line.isEmpty { out.append(line.trimmingCharacters(in: .whitespaces)); line = "" }
                // A token wider than a line on its own is broken between characters.
                for ch in t {
                    if !line.isEmpty && !fits(line + String(ch)) { out.append(line); line = "" }
                    line.append(ch)
                }
            }
            out.append(line.trimmingCharacters(in: .whitespaces))
        }
        return out
    }

    /// The widest of `lines`.
    func width(of lines: [String], size: Double, bold: Bool = false) -> Double {
        lines.map { textWidth($0, size: size, bold: bold) }.max() ?? 0
    }

    /// A picture fitted into a `box` x `box` square (enlarged by a whole factor, nearest pixel),
    /// centred, with a thin frame.
    func image(_ picture: Image, x: Double, y: Double, box: Double) throws {
        let rgb = picture.rgb()
        let (w, h) = (rgb.width, rgb.height)
        // cairo owns the pixels: the SVG surface records the drawing and encodes pictures only when
        // the page is finished, holding a reference to this surface until then.
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(w), Int32(h)),
              cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS, let data = cairo_image_surface_get_data(surface) else {
            throw FormatError("<figure>", "cairo could not hold a \(w)x\(h) picture")
        }
        defer { cairo_surface_destroy(surface) }
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        for row in 0..<h {
            for col in 0..<w {
                let s = (row * w + col) * 3, d = row * stride + col * 4
                // RGB24 is a native-endian 0xXXRRGGBB word: bytes B, G, R, X on little-endian.
                data[d] = rgb.pixels[s + 2]; data[d + 1] = rgb.pixels[s + 1]; data[d + 2] = rgb.pixels[s]; data[d + 3] = 255
            }
        }
        cairo_surface_mark_dirty(surface)
        let fit = box / Double(max(w, h))
        let scale = fit >= 1 ? fit.rounded(.down) : fit
        let (dw, dh) = (Double(w) * scale, Double(h) * scale)
        let (ox, oy) = (x + (box - dw) / 2, y + (box - dh) / 2)
        cairo_save(cr)
        cairo_translate(cr, ox, oy)
        cairo_scale(cr, scale, scale)
        cairo_set_source_surface(cr, surface, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_rectangle(cr, 0, 0, Double(w), Double(h))
        cairo_fill(cr)
        cairo_restore(cr)
        strokeRect(ox - 0.5, oy - 0.5, dw + 1, dh + 1, Color(0.6, 0.6, 0.6), width: 1)
    }
}
