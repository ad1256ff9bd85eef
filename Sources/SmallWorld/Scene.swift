import Tensor

// The description of one small-world picture. Edits that concern the object or the background
// change this description and the picture is drawn again, so the ground truth of "add a hat" or
// "move the object left" is exact rather than an approximation painted over pixels.

/// An 8-bit RGB colour.
public struct RGB: Hashable, Codable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r; self.g = g; self.b = b
    }

    /// Each channel multiplied by `factor`, rounded and clamped to 0...255.
    public func scaled(_ factor: Double) -> RGB {
        func f(_ v: UInt8) -> UInt8 { UInt8(max(0, min(255, (Double(v) * factor).rounded()))) }
        return RGB(f(r), f(g), f(b))
    }

    /// The colour with hue `h`, saturation `s` and value `v` (all in 0...1).
    static func hsv(_ h: Double, _ s: Double, _ v: Double) -> RGB {
        let h6 = (h - h.rounded(.down)) * 6
        let sector = Int(h6), f = h6 - Double(sector)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double)
        switch sector {
        case 0: (r, g, b) = (v, t, p)
        case 1: (r, g, b) = (q, v, p)
        case 2: (r, g, b) = (p, v, t)
        case 3: (r, g, b) = (p, q, v)
        case 4: (r, g, b) = (t, p, v)
        default: (r, g, b) = (v, p, q)
        }
        return RGB(UInt8((r * 255).rounded()), UInt8((g * 255).rounded()), UInt8((b * 255).rounded()))
    }
}

/// The named colours that colour parameters and captions use ("make the object red").
public enum Palette {
    public static let colors: [(name: String, rgb: RGB)] = [
        ("red", RGB(220, 40, 40)), ("orange", RGB(245, 140, 30)), ("yellow", RGB(240, 210, 40)),
        ("green", RGB(50, 170, 60)), ("teal", RGB(30, 150, 150)), ("blue", RGB(40, 80, 220)),
        ("purple", RGB(140, 60, 190)), ("pink", RGB(240, 120, 170)), ("brown", RGB(130, 80, 40)),
        ("white", RGB(245, 245, 245)), ("black", RGB(25, 25, 25)), ("gray", RGB(128, 128, 128)),
    ]

    /// The colour called `name`; names come from the family table, so a miss is a programming error.
    public static func color(_ name: String) -> RGB {
        guard let entry = colors.first(where: { $0.name == name }) else { preconditionFailure("no palette colour '\(name)'") }
        return entry.rgb
    }
}

/// The three kinds of subject, echoing the paper's animals, persons and objects.
public enum SceneCategory: String, Codable, CaseIterable, Sendable {
    case creature, figure, object
}

/// Outlines an `object` scene can take.
public enum ObjectShape: String, Codable, CaseIterable, Sendable {
    case circle, square, triangle, star, ring, diamond, cross, hexagon
}

/// Surface patterns of the object's main part, drawn in the object's own frame so they move,
/// scale and turn with it.
public enum Texture: String, Codable, CaseIterable, Sendable {
    case solid, stripes, dots, checker, grid
}

/// How the background fills the picture.
public enum BackgroundStyle: String, Codable, CaseIterable, Sendable {
    case solid, verticalGradient = "vertical_gradient", horizontalGradient = "horizontal_gradient", stripes, checker
}

/// Everything behind the object.
public struct Background: Hashable, Codable, Sendable {
    public var style: BackgroundStyle
    /// The main colour (and the top or left end of a gradient).
    public var color: RGB
    /// The second colour of gradients and patterns.
    public var secondColor: RGB
    /// Small plus-shaped stars; their places come from `starSeed`, so adding stars keeps the old ones.
    public var stars: Int
    public var starSeed: UInt64
    /// A sun in the top-right corner.
    public var sun: Bool
}

/// A picture of the small world: one subject on a background, plus optional accessories.
///
/// Geometry lives in two frames. The picture is the unit square (x right, y down). The subject
/// is drawn in its own frame, roughly [-1, 1]², mapped to the picture by
/// `picture = center + scale * rotate(quarterTurns) * mirror(mirrored) * local`, so flips,
/// rotations, moves and scaling are exact edits of four numbers.
public struct Scene: Hashable, Codable, Sendable {
    public var category: SceneCategory
    /// The outline of an `object` (ignored for creatures and figures).
    public var shape: ObjectShape
    public var color: RGB
    /// The texture's second colour; a figure's head also uses it.
    public var accent: RGB
    public var texture: Texture
    /// Centre of the subject in picture units.
    public var x: Double, y: Double
    /// Half the subject's extent, in picture units.
    public var scale: Double
    /// Clockwise quarter turns (0...3), applied after the mirror.
    public var quarterTurns: Int
    public var mirrored: Bool
    public var hat: RGB?
    public var collar: RGB?
    public var halo: Bool
    public var glasses: Bool
    /// A one-pixel outline around the subject.
    public var outline: RGB?
    /// A dark copy of the subject's silhouette, offset down and right, on the background.
    public var shadow: Bool
    public var background: Background

    /// A random scene: any category, shape, colour, texture, size and place, without accessories,
    /// so that every "add" edit is visible. The subject keeps room above it for a hat.
    public static func random(_ rng: inout RNG) -> Scene {
        let category = SceneCategory.allCases[rng.int(in: 0..<SceneCategory.allCases.count)]
        let shape = ObjectShape.allCases[rng.int(in: 0..<ObjectShape.allCases.count)]
        let objectHue = Double(rng.nextFloat())
        let color = RGB.hsv(objectHue, 0.5 + 0.5 * Double(rng.nextFloat()), 0.55 + 0.4 * Double(rng.nextFloat()))
        // Figures get a skin tone for the head; everything else a contrasting hue for the texture.
        let accent = category == .figure
            ? RGB.hsv(0.05 + 0.05 * Double(rng.nextFloat()), 0.3 + 0.4 * Double(rng.nextFloat()), 0.45 + 0.5 * Double(rng.nextFloat()))
            : RGB.hsv(objectHue + 0.33 + 0.33 * Double(rng.nextFloat()), 0.4 + 0.6 * Double(rng.nextFloat()), 0.35 + 0.6 * Double(rng.nextFloat()))
        let texture = Texture.allCases[rng.int(in: 0..<4)]  // grid is reserved for held-out edits
        let scale = 0.2 + 0.1 * Double(rng.nextFloat())
        let x = scale + 0.03 + (1 - 2 * scale - 0.06) * Double(rng.nextFloat())
        let top = 1.4 * scale + 0.02, bottom = 1 - scale - 0.03
        let y = top + (bottom - top) * Double(rng.nextFloat())
        let quarterTurns = rng.nextFloat() < 0.7 ? 0 : rng.int(in: 0...3)
        let mirrored = rng.nextFloat() < 0.5

        // The second background colour is a near neighbour of the first, so patterns and
        // gradients stay quieter than the subject.
        let hue = Double(rng.nextFloat()), saturation = 0.1 + 0.4 * Double(rng.nextFloat())
        let value = 0.3 + 0.65 * Double(rng.nextFloat())
        let step = (0.12 + 0.15 * Double(rng.nextFloat())) * (value > 0.6 ? -1 : 1)
        let background = Background(
            style: BackgroundStyle.allCases[rng.int(in: 0..<BackgroundStyle.allCases.count)],
            color: RGB.hsv(hue, saturation, value),
            secondColor: RGB.hsv(hue + 0.08 * Double(rng.nextFloat()), saturation, value + step),
            stars: rng.nextFloat() < 0.8 ? 0 : 3, starSeed: rng.nextUInt64(), sun: false)

        return Scene(category: category, shape: shape, color: color, accent: accent, texture: texture,
                     x: x, y: y, scale: scale, quarterTurns: quarterTurns, mirrored: mirrored,
                     hat: nil, collar: nil, halo: false, glasses: false, outline: nil, shadow: false,
                     background: background)
    }

    /// Flips the subject left-right in the picture. Mirroring in picture space after a rotation
    /// equals the opposite rotation after a mirror, hence the turn count changes sign.
    public mutating func flipHorizontally() {
        mirrored.toggle()
        quarterTurns = (4 - quarterTurns) % 4
    }

    /// Flips the subject upside down (a left-right flip followed by a half turn).
    public mutating func flipVertically() {
        flipHorizontally()
        rotate(quarterTurns: 2)
    }

    /// Turns the subject clockwise by `quarterTurns` quarter turns about its centre.
    public mutating func rotate(quarterTurns turns: Int) {
        quarterTurns = ((quarterTurns + turns) % 4 + 4) % 4
    }
}
