import Tensor

// What the transformer sees of an image. Flux encodes images with its VAE into 16-channel latents
// at 1/8 resolution and packs 2x2 latent pixels into one 64-d token. On a CPU the small world
// uses a lossless stand-in with the same interface: space-to-depth by 4 (3 colours x 4 x 4 = 48
// channels at 1/4 resolution), packed 2x2 into 192-d tokens like Flux. A VAE can implement
// `LatentCodec` later without touching the pipeline.

/// Images <-> latents <-> tokens.
public protocol LatentCodec {
    /// Channels of a latent pixel.
    var latentChannels: Int { get }
    /// Image pixels per latent pixel along each side.
    var downsampling: Int { get }
    /// Images [B, 3, H, W] in [-1, 1] to latents [B, C, H/f, W/f].
    func encode(_ images: Tensor) -> Tensor
    /// Latents [B, C, h, w] to images [B, 3, h*f, w*f].
    func decode(_ latents: Tensor) -> Tensor
}

/// The lossless space-to-depth codec of the small world: channel (c, dy, dx) of latent pixel
/// (y, x) is colour c of image pixel (f y + dy, f x + dx).
public struct SpaceToDepthCodec: LatentCodec {
    public let downsampling: Int
    public init(factor: Int = 4) { downsampling = factor }
    public var latentChannels: Int { 3 * downsampling * downsampling }

    public func encode(_ images: Tensor) -> Tensor {
        let (b, c, h, w, f) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3], downsampling)
        precondition(c == 3 && h % f == 0 && w % f == 0, "codec: images \(images.shape) are not [B, 3, H, W] with H, W divisible by \(f)")
        // [B, 3, h, f, w, f] -> [B, 3, f, f, h, w]
        return images.reshaped([b, c, h / f, f, w / f, f]).permuted([0, 1, 3, 5, 2, 4]).reshaped([b, c * f * f, h / f, w / f])
    }

    public func decode(_ latents: Tensor) -> Tensor {
        let (b, ch, h, w, f) = (latents.shape[0], latents.shape[1], latents.shape[2], latents.shape[3], downsampling)
        precondition(ch == latentChannels, "codec: latents \(latents.shape) do not have \(latentChannels) channels")
        return latents.reshaped([b, 3, f, f, h, w]).permuted([0, 1, 4, 2, 5, 3]).reshaped([b, 3, h * f, w * f])
    }
}

/// Flux's token layout (diffusers `_pack_latents` / `_unpack_latents` /
/// `_prepare_latent_image_ids`): 2x2 latent pixels per token, row-major.
public enum FluxPacking {
    /// Latents [B, C, h, w] -> tokens [B, (h/2)(w/2), 4C], each token ordered (c, dy, dx).
    public static func pack(_ latents: Tensor) -> Tensor {
        let (b, c, h, w) = (latents.shape[0], latents.shape[1], latents.shape[2], latents.shape[3])
        precondition(h % 2 == 0 && w % 2 == 0, "pack: latents \(latents.shape) need even height and width")
        return latents.reshaped([b, c, h / 2, 2, w / 2, 2]).permuted([0, 2, 4, 1, 3, 5]).reshaped([b, (h / 2) * (w / 2), c * 4])
    }

    /// Tokens [B, (h/2)(w/2), 4C] -> latents [B, C, h, w].
    public static func unpack(_ tokens: Tensor, height h: Int, width w: Int) -> Tensor {
        let (b, n, d) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
        precondition(n == (h / 2) * (w / 2) && d % 4 == 0, "unpack: tokens \(tokens.shape) do not fit latents \(h)x\(w)")
        return tokens.reshaped([b, h / 2, w / 2, d / 4, 2, 2]).permuted([0, 3, 1, 4, 2, 5]).reshaped([b, d / 4, h, w])
    }

    /// Position ids [(h/2)(w/2), 3] of a token grid: (first, row, column). Kontext gives the
    /// target tokens first = 0 and the conditioning image's tokens first = 1.
    public static func imageIds(height h: Int, width w: Int, first: Float = 0) -> Tensor {
        var ids: [Float] = []
        ids.reserveCapacity((h / 2) * (w / 2) * 3)
        for i in 0..<(h / 2) { for j in 0..<(w / 2) { ids += [first, Float(i), Float(j)] } }
        return Tensor(shape: [(h / 2) * (w / 2), 3], data: ids)
    }
}
