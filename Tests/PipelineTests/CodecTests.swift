import Foundation
import Testing
import Formats
import Models
import Tensor
@testable import Pipeline
import TestSupport

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

@Suite struct WhitenedCodecTests {
    /// Pictures whose 4x4 patches are correlated and unequally scaled, like the small world's.
    static func pictures(_ count: Int, seed: UInt64) -> [Tensor] {
        var rng = RNG(seed: seed)
        return (0..<count).map { _ in
            let base = rng.uniform([1, 3, 1, 1], low: -0.8, high: 0.8)
            let detail = rng.normal([1, 3, 16, 16], std: 0.05)
            return (base + detail + rng.normal([1, 1, 16, 16], std: 0.3)).clamped(min: -1, max: 1)
        }
    }

    @Test func roundTripIsExactAndLatentsAreWhite() throws {
        let pics = Self.pictures(40, seed: 1)
        let codec = try WhitenedSpaceToDepthCodec.fit(pics, floor: 1e-6)
        let images = Tensor.concat(pics, axis: 0)
        let z = codec.encode(images)
        #expect(z.shape == [40, 48, 4, 4])
        let back = codec.decode(z)
        let worst = zip(back.toArray(), images.toArray()).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4, "round trip error \(worst)")
        // On the pictures it was fitted to, every latent channel has mean 0 and variance ~1 and
        // channels are uncorrelated (population covariance ~ identity).
        let rows = z.permuted([0, 2, 3, 1]).reshaped([-1, 48])
        let n = Float(rows.shape[0])
        let cov = rows.matmul(rows, transposeA: true).toArray().map { $0 / (n - 1) }
        for i in 0..<48 {
            for j in 0..<48 { #expect(abs(cov[i * 48 + j] - (i == j ? 1 : 0)) < 0.02, "covariance [\(i), \(j)] = \(cov[i * 48 + j])") }
        }
    }

    @Test func pixelDifferenceMeasuresThePictures() throws {
        // pixelDifference(z1 - z2) is the decoded pictures' difference, pixel by pixel in the
        // pictures' layout (an edge loss reads neighbours from it), for the whitened and the plain codec.
        let pics = Self.pictures(12, seed: 3)
        let whitened = try WhitenedSpaceToDepthCodec.fit(pics)
        let (x, y) = (Tensor.concat(Array(pics[0..<2]), axis: 0), Tensor.concat(Array(pics[2..<4]), axis: 0))
        for codec in [whitened as LatentCodec, SpaceToDepthCodec()] {
            let d = codec.pixelDifference(codec.encode(x) - codec.encode(y))
            #expect(d.shape == x.shape)
            let truth = (codec.decode(codec.encode(x)) - codec.decode(codec.encode(y))).toArray()
            #expect(zip(d.toArray(), truth).allSatisfy { abs($0 - $1) < 1e-4 }, "\(type(of: codec))")
        }
        // Per batch row: the first picture's difference stays in row 0.
        let one = whitened.pixelDifference(whitened.encode(x) - whitened.encode(Tensor.concat([pics[0], pics[0]], axis: 0)))
        #expect(one.sliced(axis: 0, 0..<1).toArray().allSatisfy { abs($0) < 1e-5 })
    }

    @Test func aFloorOfOneOnlyRotatesAndScales() throws {
        // Every eigenvalue floored at the largest: W = U^T / sqrt(lambda_max), so W W^T = I / lambda_max.
        let pics = Self.pictures(12, seed: 5)
        let codec = try WhitenedSpaceToDepthCodec.fit(pics, floor: 1)
        let gram = codec.whiten.matmul(codec.whiten, transposeB: true).toArray()
        let scale = gram[0]
        #expect(scale > 0)
        for i in 0..<48 {
            for j in 0..<48 { #expect(abs(gram[i * 48 + j] - (i == j ? scale : 0)) < 1e-4 * scale, "W W^T [\(i), \(j)]") }
        }
        let x = pics[1]
        #expect(zip(codec.decode(codec.encode(x)).toArray(), x.toArray()).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test func flooredDirectionsAreNotBlownUp() throws {
        // Constant pictures have no variance in 45 of 48 directions; the floor keeps the gain finite.
        let flat = (0..<8).map { Tensor.full([1, 3, 16, 16], Float($0) / 10 - 0.4) }
        let codec = try WhitenedSpaceToDepthCodec.fit(flat)
        #expect((0..<codec.whiten.count).allSatisfy { codec.whiten.data[$0].isFinite })
        let back = codec.decode(codec.encode(flat[3]))
        #expect(zip(back.toArray(), flat[3].toArray()).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(throws: CodecError.self) { try WhitenedSpaceToDepthCodec.fit([Tensor.zeros([1, 3, 64, 64])]) }
    }

    @Test func baseSettingsRoundTripAndRefuseBadFiles() throws {
        let dir = try scratchFolder("codec")
        // A folder without sidecars is Flux-Kontext's convention.
        let plain = try BaseEditorSettings.read(base: dir)
        #expect(plain.settings == BaseEditorSettings() && plain.codec is SpaceToDepthCodec)

        let codec = try WhitenedSpaceToDepthCodec.fit(Self.pictures(10, seed: 2))
        let settings = BaseEditorSettings(prediction: .sample, codec: .whitenedSpaceToDepth)
        try settings.write(codec: codec, to: dir)
        let read = try BaseEditorSettings.read(base: dir)
        #expect(read.settings == settings)
        let whitened = try #require(read.codec as? WhitenedSpaceToDepthCodec)
        #expect(whitened.whiten.toArray() == codec.whiten.toArray() && whitened.mean.toArray() == codec.mean.toArray())

        // A finer codec (4x4-pixel, 48-d tokens) keeps its factor through the sidecars and stays lossless.
        let fine = try WhitenedSpaceToDepthCodec.fit(Self.pictures(10, seed: 3), factor: 2)
        let fineSettings = BaseEditorSettings(prediction: .contextResidual, codec: .whitenedSpaceToDepth, downsampling: 2, lossSpace: .pixels,
                                              flowSource: .context, flowSourceNoise: 0.25)
        let fineDir = try scratchFolder("codec-fine")
        try fineSettings.write(codec: fine, to: fineDir)
        let fineRead = try BaseEditorSettings.read(base: fineDir)
        #expect(fineRead.settings == fineSettings && fineRead.codec.downsampling == 2 && fineRead.codec.latentChannels == 12)
        #expect(fineRead.settings.flowStart == .context(noise: 0.25) && plain.settings.flowStart == .noise)
        let picture = Self.pictures(1, seed: 4)[0]
        #expect(zip(fineRead.codec.decode(fineRead.codec.encode(picture)).toArray(), picture.toArray()).allSatisfy { abs($0 - $1) < 1e-4 })
        try Data(#"{"prediction": "sample", "codec": "space-to-depth", "downsampling": 0}"#.utf8)
            .write(to: URL(fileURLWithPath: fineDir + "/" + BaseEditorSettings.file))
        do { _ = try BaseEditorSettings.read(base: fineDir); Issue.record("downsampling 0 loaded") } catch {
            #expect("\(error)".contains("downsampling 0"))
        }
        try Data(#"{"prediction": "sample", "codec": "space-to-depth", "loss_space": "psnr"}"#.utf8)
            .write(to: URL(fileURLWithPath: fineDir + "/" + BaseEditorSettings.file))
        do { _ = try BaseEditorSettings.read(base: fineDir); Issue.record("loss_space psnr loaded") } catch {
            #expect("\(error)".contains("loss_space") && "\(error)".contains(BaseEditorSettings.file))
        }
        for (bad, named) in [(#""flow_source": "image""#, "flow_source"), (#""flow_source": "context", "flow_source_noise": -1"#, "flow_source_noise -1")] {
            try Data(#"{"prediction": "sample", "codec": "space-to-depth", \#(bad)}"#.utf8)
                .write(to: URL(fileURLWithPath: fineDir + "/" + BaseEditorSettings.file))
            do { _ = try BaseEditorSettings.read(base: fineDir); Issue.record("\(bad) loaded") } catch {
                #expect("\(error)".contains(named) && "\(error)".contains(BaseEditorSettings.file), "\(error)")
            }
        }

        // A codec file of the wrong shape names the file and the shapes it expected.
        try Safetensors.write([("mean", Tensor.zeros([3])), ("whiten", Tensor.zeros([3, 3])), ("unwhiten", Tensor.zeros([3, 3]))],
                              to: dir + "/" + BaseEditorSettings.codecFile)
        do { _ = try BaseEditorSettings.read(base: dir); Issue.record("a 3-channel codec loaded") } catch {
            #expect("\(error)".contains(BaseEditorSettings.codecFile) && "\(error)".contains("48"))
        }
        try Data(#"{"prediction": "epsilon"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/" + BaseEditorSettings.file))
        do { _ = try BaseEditorSettings.read(base: dir); Issue.record("an unknown prediction loaded") } catch {
            #expect("\(error)".contains(BaseEditorSettings.file) && "\(error)".contains("sample"))
        }
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
        let out = withNoGrad { batch.output(model, prediction: .sample, x: batch.target, t: Tensor(shape: [2], data: [0.5, 0.9]), guidance: Tensor.ones([2])) }
        #expect(out.shape == [2, 32, 192])
        // A context-residual model's x0 is its output plus the context token at the same place.
        let residual = withNoGrad { batch.output(model, prediction: .contextResidual, x: batch.target, t: Tensor(shape: [2], data: [0.5, 0.9]), guidance: Tensor.ones([2])) }
        #expect(residual.toArray() == (out + batch.context).toArray())
        // A velocity model's output is the velocity; an x0 model's is turned into (x - x0) / t.
        let x = rng.normal([2, 32, 192])
        let v = withNoGrad { batch.velocity(model, prediction: .velocity, x: x, t: 0.5, guidance: Tensor.ones([2])) }
        let fromSample = withNoGrad { batch.velocity(model, prediction: .sample, x: x, t: 0.5, guidance: Tensor.ones([2])) }
        let expected = (x - v) * 2
        #expect(zip(fromSample.toArray(), expected.toArray()).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
        let fromResidual = withNoGrad { batch.velocity(model, prediction: .contextResidual, x: x, t: 0.5, guidance: Tensor.ones([2])) }
        let expectedResidual = (x - v - batch.context) * 2
        #expect(zip(fromResidual.toArray(), expectedResidual.toArray()).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })

        // Where the flow starts: the noise itself, or the context plus sigma times it.
        #expect(batch.flowStart(.noise, noise: x).toArray() == x.toArray())
        #expect(batch.flowStart(.context(noise: 0.25), noise: x).toArray() == (batch.context + x * 0.25).toArray())
        #expect(batch.flowStart(.context(noise: 0), noise: x).toArray() == batch.context.toArray())
        // From the context with no noise, one Euler step of a context-residual model is its x0 at
        // t = 1, computed from the context in the target's place.
        let start = batch.flowStart(.context(noise: 0), noise: x)
        let oneStep = FlowMatching.sample(steps: 1, imageSeqLen: 32, initialNoise: start) { x, t in
            batch.velocity(model, prediction: .contextResidual, x: x, t: t, guidance: Tensor.ones([2]))
        }
        let direct = withNoGrad { batch.output(model, prediction: .contextResidual, x: batch.context, t: Tensor.ones([2]), guidance: Tensor.ones([2])) }
        #expect(zip(oneStep.toArray(), direct.toArray()).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
    }
}
