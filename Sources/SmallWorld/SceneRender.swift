import Formats
import Foundation
import Tensor

// Rasterisation of a `Scene`: every pixel centre is mapped into the subject's own frame and
// tested against simple implicit shapes (discs, boxes, triangles). Hard edges and no
// anti-aliasing keep every pixel a pure function of the description, so re-rendering an edited
// description is exact ground truth at any size.

/// A drawn scene and which of its pixels belong to the subject (body and accessories).
public struct RenderedScene: Sendable {
    public let image: Image
    /// `size * size` flags, row-major: true where the subject or an accessory was drawn.
    public let objectMask: [Bool]
}

extension Scene {
    /// Draws the scene as a `size` x `size` RGB image.
    public func render(size: Int) -> RenderedScene {
        precondition(size > 0, "render: size must be positive, got \(size)")
        let n = size * size
        var pixels = [UInt8](repeating: 0, count: 3 * n)
        var mask = [Bool](repeating: false, count: n)
        let anatomy = Anatomy.of(category)
        let inverseScale = 1 / scale

        // Pass 1: the subject, in its own frame.
        for py in 0..<size {
            for px in 0..<size {
                var lx = ((Double(px) + 0.5) / Double(size) - x) * inverseScale
                var ly = ((Double(py) + 0.5) / Double(size) - y) * inverseScale
                // Undo the clockwise turns ((x, y) -> (-y, x) each), then the mirror.
                for _ in 0..<quarterTurns { (lx, ly) = (ly, -lx) }
                if mirrored { lx = -lx }
                if let c = subjectColor(lx, ly, anatomy) {
                    let i = py * size + px
                    mask[i] = true
                    pixels[3 * i] = c.r; pixels[3 * i + 1] = c.g; pixels[3 * i + 2] = c.b
                }
            }
        }

        // Pass 2: background, stars, sun, shadow and outline wherever the subject is absent.
        let stars = starPixels(size: size)
        let shadowOffset = max(1, size / 16)
        for py in 0..<size {
            for px in 0..<size where !mask[py * size + px] {
                let i = py * size + px
                var c = backgroundColor(px, py, size)
                if stars.contains(i) { c = RGB(255, 250, 210) }
                let su = (Double(px) + 0.5) / Double(size) - 0.85, sv = (Double(py) + 0.5) / Double(size) - 0.15
                if background.sun && su * su + sv * sv <= 0.01 { c = RGB(255, 200, 40) }
                if shadow && px >= shadowOffset && py >= shadowOffset && mask[i - shadowOffset * size - shadowOffset] {
                    c = c.scaled(0.45)
                }
                if let outline, (px > 0 && mask[i - 1]) || (px + 1 < size && mask[i + 1])
                    || (py > 0 && mask[i - size]) || (py + 1 < size && mask[i + size]) {
                    c = outline
                }
                pixels[3 * i] = c.r; pixels[3 * i + 1] = c.g; pixels[3 * i + 2] = c.b
            }
        }
        return RenderedScene(image: Image(width: size, height: size, channels: 3, pixels: pixels), objectMask: mask)
    }

    /// The colour of the subject at local point (lx, ly), or nil where it is absent. Accessories
    /// are tested first because they sit on top of the body.
    private func subjectColor(_ lx: Double, _ ly: Double, _ a: Anatomy) -> RGB? {
        let dark = RGB(20, 20, 20)
        if glasses {
            let (e0, e1) = (a.eyes[0], a.eyes[1])
            if box(lx, ly, e0.x, e0.y, 0.13, 0.1) || box(lx, ly, e1.x, e1.y, 0.13, 0.1)
                || box(lx, ly, (e0.x + e1.x) / 2, e0.y, abs(e1.x - e0.x) / 2, 0.03) { return dark }
        }
        if let hat {
            let r = max(a.headRadius, 0.35)
            if box(lx, ly, a.headX, a.headTop - 0.06, 1.3 * r, 0.06)
                || box(lx, ly, a.headX, a.headTop - 0.12 - 0.45 * r, 0.8 * r, 0.45 * r) { return hat }
        }
        if halo {
            let rx = 0.9 * max(a.headRadius, 0.35), ry = 0.15
            let dx = (lx - a.headX) / rx, dy = (ly - (a.headTop - 0.3)) / ry
            let e = dx * dx + dy * dy
            if e >= 0.4 && e <= 1 { return RGB(255, 215, 0) }
        }
        if let collar, box(lx, ly, a.collar.x, a.collar.y, a.collar.halfWidth, a.collar.halfHeight) { return collar }
        if category != .object {
            for eye in a.eyes where disc(lx, ly, eye.x, eye.y, 0.09) { return RGB(15, 15, 15) }
        }

        switch category {
        case .object:
            return inShape(lx, ly) ? textured(lx, ly) : nil
        case .creature:
            if disc(lx, ly, -0.6, -0.35, 0.35) || triangle(lx, ly, -0.78, -0.88, -0.6, 0.12)
                || triangle(lx, ly, -0.45, -0.88, -0.6, 0.12) { return color }
            let ex = (lx - 0.15) / 0.7, ey = (ly - 0.1) / 0.45
            if ex * ex + ey * ey <= 1 { return textured(lx, ly) }
            if box(lx, ly, -0.28, 0.7, 0.08, 0.25) || box(lx, ly, 0.52, 0.7, 0.08, 0.25)
                || box(lx, ly, 0.88, -0.15, 0.07, 0.2) { return color.scaled(0.8) }
            return nil
        case .figure:
            if disc(lx, ly, 0, -0.62, 0.3) { return accent }
            if box(lx, ly, 0, 0.075, 0.35, 0.375) { return textured(lx, ly) }
            // One arm down, one raised: the figure is not symmetric, so flips are visible.
            if box(lx, ly, -0.51, 0.03, 0.11, 0.31) || box(lx, ly, 0.51, -0.42, 0.11, 0.33) { return color }
            if box(lx, ly, -0.18, 0.72, 0.12, 0.27) || box(lx, ly, 0.18, 0.72, 0.12, 0.27) { return color.scaled(0.6) }
            return nil
        }
    }

    /// Whether local point (x, y) lies inside the object's outline (all fit in [-1, 1]²).
    private func inShape(_ x: Double, _ y: Double) -> Bool {
        let ax = abs(x), ay = abs(y), r2 = x * x + y * y
        switch shape {
        case .circle: return r2 <= 0.9
        case .square: return ax <= 0.8 && ay <= 0.8
        case .triangle: return triangle(x, y, 0, -0.95, 0.8, 0.95)
        case .diamond: return ax + ay <= 1
        case .ring: return r2 >= 0.3 && r2 <= 0.9
        case .cross: return (ax <= 0.3 && ay <= 0.95) || (ay <= 0.3 && ax <= 0.95)
        case .hexagon: return ay <= 0.82 && 1.732 * ax + ay <= 1.64
        case .star:
            // Five points, one straight up: a radius that swings with the angle.
            guard r2 <= 1 else { return false }
            let angle = atan2(x, -y)
            let swing = cos(5 * angle)
            let reach = 0.42 + 0.55 * max(0, swing) * max(0, swing)
            return r2 <= reach * reach
        }
    }

    /// The main colour with this scene's texture drawn in the accent colour.
    private func textured(_ x: Double, _ y: Double) -> RGB {
        // Shift into positive coordinates so floor-based cells do not mirror at the origin.
        let u = (x + 2) * 2.5, v = (y + 2) * 2.5
        let cu = u.rounded(.down), cv = v.rounded(.down)
        switch texture {
        case .solid: return color
        case .stripes: return Int(cv) % 2 == 1 ? accent : color
        case .checker: return (Int(cu) + Int(cv)) % 2 == 1 ? accent : color
        case .grid: return (u - cu < 0.3 || v - cv < 0.3) ? accent : color
        case .dots:
            let du = (x + 2) * 2, dv = (y + 2) * 2
            let fu = du - du.rounded(.down) - 0.5, fv = dv - dv.rounded(.down) - 0.5
            return fu * fu + fv * fv < 0.09 ? accent : color
        }
    }

    private func backgroundColor(_ px: Int, _ py: Int, _ size: Int) -> RGB {
        let u = (Double(px) + 0.5) / Double(size), v = (Double(py) + 0.5) / Double(size)
        let (c1, c2) = (background.color, background.secondColor)
        func mix(_ t: Double) -> RGB {
            func m(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) + (Double(b) - Double(a)) * t).rounded()) }
            return RGB(m(c1.r, c2.r), m(c1.g, c2.g), m(c1.b, c2.b))
        }
        switch background.style {
        case .solid: return c1
        case .verticalGradient: return mix(v)
        case .horizontalGradient: return mix(u)
        case .stripes: return Int(u * 6) % 2 == 0 ? c1 : c2
        case .checker: return (Int(u * 4) + Int(v * 4)) % 2 == 0 ? c1 : c2
        }
    }

    /// Pixel indices covered by the stars: each a plus of five pixels at a place drawn from its
    /// own stream of `starSeed`, so star k is where it was before stars were added.
    private func starPixels(size: Int) -> Set<Int> {
        var covered = Set<Int>()
        let root = RNG(seed: background.starSeed)
        for k in 0..<background.stars {
            var rng = root.fork(UInt64(k))
            let cx = rng.int(in: 0..<size), cy = rng.int(in: 0..<size)
            for (dx, dy) in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)] {
                let px = cx + dx, py = cy + dy
                if px >= 0 && px < size && py >= 0 && py < size { covered.insert(py * size + px) }
            }
        }
        return covered
    }
}

/// Where a category's head, eyes and neck are in the subject frame: accessories attach there.
private struct Anatomy {
    var headX: Double, headY: Double, headRadius: Double, headTop: Double
    var eyes: [(x: Double, y: Double)]
    var collar: (x: Double, y: Double, halfWidth: Double, halfHeight: Double)

    static func of(_ category: SceneCategory) -> Anatomy {
        switch category {
        case .object:
            return Anatomy(headX: 0, headY: -0.5, headRadius: 0.5, headTop: -0.95,
                           eyes: [(-0.3, -0.3), (0.3, -0.3)], collar: (0, 0.55, 0.7, 0.1))
        case .creature:
            return Anatomy(headX: -0.6, headY: -0.35, headRadius: 0.35, headTop: -0.7,
                           eyes: [(-0.75, -0.42), (-0.45, -0.42)], collar: (-0.33, -0.1, 0.07, 0.25))
        case .figure:
            return Anatomy(headX: 0, headY: -0.62, headRadius: 0.3, headTop: -0.92,
                           eyes: [(-0.12, -0.65), (0.12, -0.65)], collar: (0, -0.3, 0.25, 0.07))
        }
    }
}

/// Axis-aligned box centred at (cx, cy) with half sizes (hw, hh).
@inline(__always)
private func box(_ x: Double, _ y: Double, _ cx: Double, _ cy: Double, _ hw: Double, _ hh: Double) -> Bool {
    abs(x - cx) <= hw && abs(y - cy) <= hh
}

@inline(__always)
private func disc(_ x: Double, _ y: Double, _ cx: Double, _ cy: Double, _ r: Double) -> Bool {
    (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r
}

/// Isosceles triangle with its apex at (ax, ay) pointing up and its base at `baseY`, `halfBase` wide.
@inline(__always)
private func triangle(_ x: Double, _ y: Double, _ ax: Double, _ ay: Double, _ baseY: Double, _ halfBase: Double) -> Bool {
    guard y >= ay && y <= baseY else { return false }
    return abs(x - ax) <= halfBase * (y - ay) / (baseY - ay)
}
