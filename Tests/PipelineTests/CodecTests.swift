import Testing
import Formats
import Models
import Tensor
@testable import Pipeline

@Suite struct CodecTests {
    @Test func spaceToDepthIsLosslessAndPlacesPixels() {
        var rng = RNG(seed: 1)
        let images = rng.uniform([2, 3, 8, 12], low: -1, high: 1)
        let codec = SpaceToDepthCodec()
        let latents = codec.encode(images)
        #expect(latents.shape == [2, 48, 2, 3])
        #expect(codec.decode(latents).toArray() == images.toArray())
        // Channel (c, dy, dx) of latent pixel (y, x) is colour c at (4y + dy, 4x + dx).
        let (c, dy, dx, y, x) = (2, 1, 3, 1, 2)
        #expect(latents[1, c * 16 + dy * 4 + dx, y, x] == images[1, c, 4 * y + dy, 4 * x + dx])
    }

    @Test func fluxPackingMatchesDiffusersLayout() {
        var rng = RNG(seed: 2)
        let latents = rng.normal([2, 5, 4, 6])
        let tokens = FluxPacking.pack(latents)
        #expect(tokens.shape == [2, 6, 20])
        // diffusers: token (i, j) holds channels c in order (c, dy, dx) of latent pixels (2i + dy, 2j + dx).
        #expect(tokens[1, 1 * 3 + 2, 3 * 4 + 1 * 2 + 0] == latents[1, 3, 2 * 1 + 1, 2 * 2 + 0])
        #expect(FluxPacking.unpack(tokens, height: 4, width: 6).toArray() == latents.toArray())
        let ids = FluxPacking.imageIds(height: 4, width: 6, first: 1)
        #expect(ids.shape == [6, 3] && ids[4, 0] == 1 && ids[4, 1] == 1 && ids[4, 2] == 1)
    }

    @Test func textStandInIsDeterministicAndPadsWithZeros() {
        let text = HashedTextEncoder(length: 8, width: 16, pooledWidth: 12)
        let (tokens, pooled) = text.encode(["Add a red hat", "", "add a RED hat!"])
        #expect(tokens.shape == [3, 8, 16] && pooled.shape == [3, 12])
        #expect(text.tokenize("Add a red hat") == text.tokenize("add a RED hat!"))
        let row = 8 * 16
        #expect(Array(tokens.toArray()[0..<row]) == Array(tokens.toArray()[(2 * row)..<(3 * row)]))
        #expect(tokens.toArray()[row..<(2 * row)].allSatisfy { $0 == 0 } && pooled.toArray()[12..<24].allSatisfy { $0 == 0 })
        #expect(HashedTextEncoder(length: 8, width: 16, pooledWidth: 12).encode(["x"]).tokens.toArray() == text.encode(["x"]).tokens.toArray())
    }
}

@Suite struct KontextBatchTests {
    @Test func layoutAndRoundTrip() throws {
        var rng = RNG(seed: 3)
        func image(_ w: Int, _ h: Int) -> Image {
            Image(width: w, height: h, channels: 3, pixels: (0..<(w * h * 3)).map { _ in UInt8(rng.int(in: 0..<256)) })
        }
        let targets = [image(64, 32), image(64, 32)], contexts = [image(64, 32), image(64, 32)]
        let text = HashedTextEncoder()
        let batch = KontextBatch(targets: targets, contexts: contexts, prompts: ["add a hat", ""],
                                 codec: SpaceToDepthCodec(), textEncoder: text)
        #expect(batch.target.shape == [2, 32, 192] && batch.context.shape == [2, 32, 192])
        #expect(batch.imgIds.shape == [64, 3] && batch.imgIds[0, 0] == 0 && batch.imgIds[32, 0] == 1 && batch.imgIds[63, 2] == 7)
        #expect(try batch.images(from: batch.target, codec: SpaceToDepthCodec()) == targets)

        var c = FluxConfig.small
        c.numLayers = 1; c.numSingleLayers = 1
        let model = try FluxTransformer(.initialising(seed: 0), config: c)
        let v = withNoGrad { batch.velocity(model, x: batch.target, t: Tensor(shape: [2], data: [0.5, 0.9]), guidance: Tensor.ones([2])) }
        #expect(v.shape == [2, 32, 192])
    }
}
