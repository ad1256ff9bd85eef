import Foundation
import Formats

// One self-contained HTML page (inline style, no scripts, no external assets): figures and data
// files sit beside it and are referenced by relative paths, so the folder can be moved or
// committed as it is.

public struct HTMLReport {
    public var title: String
    public private(set) var body = ""

    public init(title: String) { self.title = title }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    public mutating func heading(_ text: String, id: String) { body += "<h2 id=\"\(id)\">\(Self.escape(text))</h2>\n" }

    /// A paragraph of trusted HTML (callers escape interpolated values).
    public mutating func paragraph(_ html: String) { body += "<p>\(html)</p>\n" }

    /// A figure by relative path (the SVG is linked beside a PNG when both exist).
    public mutating func figure(_ src: String, caption: String, width: Int? = nil) {
        let svg = (src as NSString).deletingPathExtension + ".svg"
        let style = width.map { " style=\"max-width:\($0)px\"" } ?? ""
        body += "<figure><img src=\"\(Self.escape(src))\" alt=\"\(Self.escape(caption))\"\(style)>"
            + "<figcaption>\(Self.escape(caption)) <a href=\"\(Self.escape(svg))\">svg</a></figcaption></figure>\n"
    }

    public mutating func figures(_ items: [(src: String, caption: String)]) {
        body += "<div class=\"row\">\n"
        for item in items { figure(item.src, caption: item.caption) }
        body += "</div>\n"
    }

    public mutating func table(_ header: [String], _ rows: [[String]]) {
        body += "<table><tr>" + header.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows { body += "<tr>" + row.map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>\n" }
        body += "</table>\n"
    }

    /// Links to data files, by relative path.
    public mutating func files(_ paths: [String]) {
        body += "<p class=\"files\">Data: " + paths.map { "<a href=\"\(Self.escape($0))\">\(Self.escape($0))</a>" }.joined(separator: " · ") + "</p>\n"
    }

    public var html: String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title))</title>
        <style>
        body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
        h1 { font-size: 1.7em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
        figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
        figure img { max-width: 100%; border: 1px solid #eee; } figcaption { font-size: .85em; color: #555; }
        .row figure { max-width: 48%; }
        table { border-collapse: collapse; font-size: .85em; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .2em .5em; text-align: right; }
        th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
        .files { font-size: .85em; } code { background: #f4f4f4; padding: 0 .2em; }
        </style></head><body>
        <h1>\(Self.escape(title))</h1>
        \(body)</body></html>

        """
    }

    public func write(to path: String) throws { try AtomicFile.write(Data(html.utf8), to: path) }
}
