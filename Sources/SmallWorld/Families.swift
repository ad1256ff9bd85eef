import Formats
import Foundation

// The transformation families of the small world. A family is a kind of edit with one optional
// parameter ("tint" with a colour, "blur" with a radius); a task fixes the parameter. Object,
// layout and background families edit the scene description and the picture is drawn again;
// colour and style families filter the drawn pixels.

/// A parameter value: a number (degrees, a factor, a radius) or a name (a colour, a direction).
/// In JSON it is a bare number or string.
public enum ParameterValue: Hashable, Codable, Sendable, CustomStringConvertible {
    case number(Double)
    case name(String)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .name(try container.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let v): try container.encode(v)
        case .name(let s): try container.encode(s)
        }
    }

    /// "60" for whole numbers, "0.5" otherwise, the name itself for names: used in task ids.
    public var description: String {
        switch self {
        case .number(let v): return v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
        case .name(let s): return s
        }
    }

    var number: Double {
        guard case .number(let v) = self else { preconditionFailure("parameter \(self) is not a number") }
        return v
    }

    var name: String {
        guard case .name(let s) = self else { preconditionFailure("parameter \(self) is not a name") }
        return s
    }
}

/// The broad kinds of edit, following the paper's task categories.
public enum FamilyKind: String, Codable, CaseIterable, Sendable {
    case color, style, object, layout, background
}

/// One transformation family.
public struct Family: Sendable {
    /// How a family changes a picture.
    enum Effect: Sendable {
        /// Edits the description; the picture is drawn again.
        case scene(@Sendable (inout Scene, ParameterValue?) -> Void)
        /// Filters the drawn pixels.
        case filter(@Sendable (inout Image, ParameterValue?) -> Void)
    }

    public let name: String
    public let kind: FamilyKind
    /// The parameter's name, or nil for families without one ("invert the colours").
    public let parameter: String?
    /// Values that training tasks use (all values, for a held-out family).
    public let trainValues: [ParameterValue]
    /// Values reserved for the `unseen` split's new-parameter tasks.
    public let unseenValues: [ParameterValue]
    /// Whether the base editor is pretrained on this family from its caption alone. Families whose
    /// captions do not pin the edit down, and every held-out family, are not: those edits can only
    /// be learned from the visual analogy.
    public let textDescribable: Bool
    /// Held out of training altogether: the `unseen` split's new-family tasks.
    public let heldOut: Bool
    let makeCaption: @Sendable (ParameterValue?) -> String
    let effect: Effect

    /// The edit instruction for one parameter value (nil for families without a parameter).
    public func caption(_ value: ParameterValue?) -> String { makeCaption(value) }

    /// Whether the family draws the scene again (object, layout, background edits).
    public var editsScene: Bool {
        if case .scene = effect { return true }
        return false
    }
}

/// The family table.
public enum Families {
    /// Every family, in a fixed order that task ids and splits rely on.
    public static let all: [Family] = color + style + object + layout + background

    /// The family called `name`, if any.
    public static func named(_ name: String) -> Family? { index[name] }

    private static let index = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    // MARK: Table helpers

    private static func numbers(_ values: Double...) -> [ParameterValue] { values.map { .number($0) } }
    private static func names(_ values: String...) -> [ParameterValue] { values.map { .name($0) } }
    private static func percent(_ v: ParameterValue?) -> String { "\(Int((v!.number * 100).rounded()))%" }

    private static func filter(
        _ name: String, _ kind: FamilyKind, _ parameter: String? = nil, train: [ParameterValue] = [], unseen: [ParameterValue] = [],
        text: Bool = true, heldOut: Bool = false, caption: @escaping @Sendable (ParameterValue?) -> String,
        _ apply: @escaping @Sendable (inout Image, ParameterValue?) -> Void
    ) -> Family {
        Family(name: name, kind: kind, parameter: parameter, trainValues: train, unseenValues: unseen,
               textDescribable: text && !heldOut, heldOut: heldOut, makeCaption: caption, effect: .filter(apply))
    }

    private static func edit(
        _ name: String, _ kind: FamilyKind, _ parameter: String? = nil, train: [ParameterValue] = [], unseen: [ParameterValue] = [],
        text: Bool = true, heldOut: Bool = false, caption: @escaping @Sendable (ParameterValue?) -> String,
        _ apply: @escaping @Sendable (inout Scene, ParameterValue?) -> Void
    ) -> Family {
        Family(name: name, kind: kind, parameter: parameter, trainValues: train, unseenValues: unseen,
               textDescribable: text && !heldOut, heldOut: heldOut, makeCaption: caption, effect: .scene(apply))
    }

    // MARK: Colour and tone

    private static let color: [Family] = [
        filter("hue_rotate", .color, "degrees", train: numbers(60, 120, 180, 240, 300), unseen: numbers(90, 210),
               caption: { "rotate the hue by \($0!) degrees" }) { Filters.hueRotate(&$0, degrees: $1!.number) },
        filter("tint", .color, "color", train: names("red", "green", "blue", "yellow", "purple"), unseen: names("orange"),
               caption: { "tint the picture \($0!)" }) { image, v in
            let c = Palette.color(v!.name)
            Filters.map(&image) { r, g, b in ((r + Double(c.r)) / 2, (g + Double(c.g)) / 2, (b + Double(c.b)) / 2) }
        },
        filter("invert", .color, caption: { _ in "invert the colours" }) { image, _ in
            Filters.lookup(&image, Filters.table { 255 - $0 })
        },
        filter("posterize", .color, "levels", train: numbers(2, 4), unseen: numbers(3),
               caption: { "posterize to \($0!) levels per channel" }) { image, v in
            let steps = v!.number - 1
            Filters.lookup(&image, Filters.table { ($0 * steps / 255).rounded() * 255 / steps })
        },
        filter("sepia", .color, "amount", train: numbers(0.5, 1), unseen: numbers(0.75),
               caption: { "apply a sepia filter at \(percent($0)) strength" }) { Filters.sepia(&$0, amount: $1!.number) },
        filter("grayscale", .color, caption: { _ in "make the picture grayscale" }) { image, _ in Filters.saturation(&image, factor: 0) },
        filter("brightness", .color, "factor", train: numbers(0.5, 0.7, 1.3, 1.6), unseen: numbers(0.6, 1.45),
               caption: { "\($0!.number < 1 ? "darken" : "brighten") the picture to \(percent($0)) brightness" }) { image, v in
            let f = v!.number
            Filters.lookup(&image, Filters.table { $0 * f })
        },
        filter("contrast", .color, "factor", train: numbers(0.5, 1.5, 2), unseen: numbers(1.75),
               caption: { "set the contrast to \(percent($0))" }) { image, v in
            let f = v!.number
            Filters.lookup(&image, Filters.table { ($0 - 128) * f + 128 })
        },
        filter("channel_swap", .color, "order", train: names("gbr", "brg", "bgr"), unseen: names("grb"), text: false,
               caption: { "swap the colour channels to \($0!)" }) { Filters.channelSwap(&$0, order: $1!.name) },
        filter("saturation", .color, "factor", train: numbers(0.4, 1.8, 2.5), unseen: numbers(0.6),
               caption: { "set the saturation to \(percent($0))" }) { Filters.saturation(&$0, factor: $1!.number) },
        filter("gamma", .color, "gamma", train: numbers(0.5, 2), unseen: numbers(1.5), text: false,
               caption: { "apply gamma \($0!)" }) { image, v in
            let g = v!.number
            Filters.lookup(&image, Filters.table { 255 * pow($0 / 255, g) })
        },
        filter("threshold", .color, "level", train: numbers(96, 160), unseen: numbers(128),
               caption: { "turn the picture black and white at level \($0!)" }) { image, v in
            let level = v!.number
            Filters.map(&image) { r, g, b in
                let y: Double = Filters.luma(r, g, b) >= level ? 255 : 0
                return (y, y, y)
            }
        },
        filter("solarize", .color, "level", train: numbers(96, 128, 192), heldOut: true,
               caption: { "solarize above level \($0!)" }) { image, v in
            let level = v!.number
            Filters.lookup(&image, Filters.table { $0 >= level ? 255 - $0 : $0 })
        },
        filter("duotone", .color, "colors", train: names("blue-yellow", "purple-orange", "black-pink"), heldOut: true,
               caption: { "map the picture onto a \($0!) duotone" }) { image, v in
            let ends = v!.name.split(separator: "-").map { Palette.color(String($0)) }
            Filters.duotone(&image, dark: ends[0], light: ends[1])
        },
    ]

    // MARK: Style

    private static let style: [Family] = [
        filter("blur", .style, "radius", train: numbers(1, 2), unseen: numbers(3),
               caption: { "blur the picture with radius \($0!)" }) { Filters.blur(&$0, radius: Int($1!.number)) },
        filter("pixelate", .style, "block", train: numbers(2, 4), unseen: numbers(8),
               caption: { "pixelate into \($0!)-pixel blocks" }) { Filters.pixelate(&$0, block: Int($1!.number)) },
        filter("edges", .style, caption: { _ in "turn the picture into a line drawing" }) { image, _ in Filters.edges(&image) },
        filter("emboss", .style, "direction", train: names("left", "top", "top-left"), heldOut: true,
               caption: { "emboss lit from the \($0!)" }) { image, v in
            let d: (Int, Int) = ["left": (-1, 0), "top": (0, -1), "top-left": (-1, -1)][v!.name]!
            Filters.emboss(&image, dx: d.0, dy: d.1)
        },
        filter("noise", .style, "amount", train: numbers(20, 50), unseen: numbers(35),
               caption: { "add grain of strength \($0!)" }) { Filters.noise(&$0, amount: $1!.number) },
        filter("sharpen", .style, "amount", train: numbers(1, 2), unseen: numbers(3),
               caption: { "sharpen the picture by \($0!)" }) { Filters.sharpen(&$0, amount: $1!.number) },
        filter("vignette", .style, "strength", train: numbers(0.5, 0.9), unseen: numbers(0.7),
               caption: { "add a vignette of strength \(percent($0))" }) { Filters.vignette(&$0, strength: $1!.number) },
        filter("scanlines", .style, "period", train: numbers(2, 3), unseen: numbers(4), text: false,
               caption: { "darken every \($0!) rows" }) { Filters.scanlines(&$0, period: Int($1!.number)) },
        filter("dither", .style, text: false, caption: { _ in "dither the picture" }) { image, _ in Filters.dither(&image) },
        filter("wave", .style, "amplitude", train: numbers(1, 2, 3), heldOut: true,
               caption: { "make the picture wavy by \($0!) pixels" }) { Filters.wave(&$0, amplitude: $1!.number) },
        filter("mirror_half", .style, text: false, caption: { _ in "mirror the left half onto the right" }) { image, _ in
            Filters.mirrorHalf(&image)
        },
        filter("tile", .style, caption: { _ in "tile the picture two by two" }) { image, _ in Filters.tile(&image) },
        filter("border", .style, "color", train: names("black", "white", "red"), unseen: names("blue"),
               caption: { "add a \($0!) frame" }) { Filters.border(&$0, color: Palette.color($1!.name)) },
    ]

    // MARK: Object edits

    private static let object: [Family] = [
        edit("recolor_object", .object, "color", train: names("red", "orange", "green", "blue", "purple", "white"), unseen: names("pink", "teal"),
             caption: { "make the object \($0!)" }) { $0.color = Palette.color($1!.name) },
        edit("retexture", .object, "texture", train: names("solid", "stripes", "dots", "checker"), unseen: names("grid"),
             caption: { $0!.name == "solid" ? "make the object plain" : "give the object a \($0!) pattern" }) {
            $0.texture = Texture(rawValue: $1!.name)!
        },
        edit("change_shape", .object, "shape", train: names("circle", "square", "triangle", "star", "ring", "diamond", "cross"),
             unseen: names("hexagon"), caption: { "turn the object into a \($0!)" }) { scene, v in
            scene.category = .object
            scene.shape = ObjectShape(rawValue: v!.name)!
        },
        edit("add_hat", .object, "color", train: names("red", "blue", "black", "green", "yellow"), unseen: names("purple"),
             caption: { "add a \($0!) hat" }) { $0.hat = Palette.color($1!.name) },
        edit("add_collar", .object, "color", train: names("red", "blue", "yellow"), unseen: names("teal"),
             caption: { "add a \($0!) collar" }) { $0.collar = Palette.color($1!.name) },
        edit("add_halo", .object, caption: { _ in "add a halo" }) { scene, _ in scene.halo = true },
        edit("add_glasses", .object, heldOut: true, caption: { _ in "add glasses" }) { scene, _ in scene.glasses = true },
        edit("outline", .object, "color", train: names("black", "white", "red"), unseen: names("yellow"),
             caption: { "outline the object in \($0!)" }) { $0.outline = Palette.color($1!.name) },
        edit("shadow", .object, caption: { _ in "add a drop shadow" }) { scene, _ in scene.shadow = true },
        edit("swap_colors", .object, heldOut: true, caption: { _ in "swap the object's two colours" }) { scene, _ in
            swap(&scene.color, &scene.accent)
        },
        edit("object_brightness", .object, "factor", train: numbers(0.5, 1.5), unseen: numbers(0.75),
             caption: { "\($0!.number < 1 ? "darken" : "brighten") the object to \(percent($0)) brightness" }) { scene, v in
            scene.color = scene.color.scaled(v!.number)
            scene.accent = scene.accent.scaled(v!.number)
        },
    ]

    // MARK: Layout

    private static let layout: [Family] = [
        edit("move", .layout, "direction", train: names("left", "right", "up", "down"), unseen: names("up-left"),
             caption: { "move the object \($0!)" }) { scene, v in
            let step = 0.15
            for part in v!.name.split(separator: "-") {
                switch part {
                case "left": scene.x -= step
                case "right": scene.x += step
                case "up": scene.y -= step
                default: scene.y += step
                }
            }
        },
        edit("scale", .layout, "factor", train: numbers(0.6, 0.75, 1.3), unseen: numbers(1.15),
             caption: { "resize the object to \(percent($0))" }) { $0.scale *= $1!.number },
        edit("flip_h", .layout, caption: { _ in "flip the object horizontally" }) { scene, _ in scene.flipHorizontally() },
        edit("flip_v", .layout, heldOut: true, caption: { _ in "flip the object upside down" }) { scene, _ in scene.flipVertically() },
        edit("rotate", .layout, "quarter_turns", train: numbers(1, 2, 3),
             caption: { "rotate the object \(Int($0!.number) * 90) degrees clockwise" }) { $0.rotate(quarterTurns: Int($1!.number)) },
        edit("center", .layout, caption: { _ in "move the object to the centre" }) { scene, _ in
            scene.x = 0.5
            scene.y = 0.5
        },
    ]

    // MARK: Background

    private static let background: [Family] = [
        edit("background_color", .background, "color", train: names("red", "green", "blue", "white", "black", "yellow"),
             unseen: names("pink", "teal"), caption: { "make the background plain \($0!)" }) { scene, v in
            scene.background.style = .solid
            scene.background.color = Palette.color(v!.name)
        },
        edit("background_darken", .background, "factor", train: numbers(0.4, 0.7), unseen: numbers(0.55),
             caption: { "darken the background to \(percent($0))" }) { scene, v in
            scene.background.color = scene.background.color.scaled(v!.number)
            scene.background.secondColor = scene.background.secondColor.scaled(v!.number)
        },
        edit("add_stars", .background, "count", train: numbers(4, 8), unseen: numbers(12),
             caption: { "add \($0!) stars to the sky" }) { $0.background.stars += Int($1!.number) },
        edit("background_gradient", .background, "color", train: names("blue", "orange", "purple"), unseen: names("green"),
             caption: { "fade the background into \($0!) towards the bottom" }) { scene, v in
            scene.background.style = .verticalGradient
            scene.background.secondColor = Palette.color(v!.name)
        },
        edit("background_pattern", .background, "pattern", train: names("stripes", "checker"),
             caption: { "give the background \($0!)" }) { scene, v in
            scene.background.style = BackgroundStyle(rawValue: v!.name)!
            scene.background.secondColor = scene.background.color.scaled(0.7)
        },
        edit("add_sun", .background, heldOut: true, caption: { _ in "add a sun" }) { scene, _ in scene.background.sun = true },
    ]
}
