import Foundation
import Testing
import Formats
import Models
import Tensor
@testable import Pipeline
import TestSupport

// The committed small-world models load through the upstream-layout loaders and compute what
// transformers / diffusers compute from the same folders (tools/fixtures/check_shipped_models.py).

let repositoryRoot = Fixtures.repository

@Suite struct ShippedModelsTests {
    func fixture(_ name: String) throws -> Tensor {
        try NPY.read(repositoryRoot.appendingPathComponent("Tests/Fixtures/shipped/\(name).npy").path)
    }

    func check(_ got: Tensor, _ want: Tensor, _ what: String) {
        #expect(got.shape == want.shape)
        var worst: Float = 0, scale: Float = 1
        for i in 0..<min(got.count, want.count) { worst = max(worst, abs(got.data[i] - want.data[i])); scale = max(scale, abs(want.data[i])) }
        #expect(worst <= 1e-4 * scale, "\(what): max error \(worst) against the upstream library")
    }

    @Test func encoderMatchesTransformers() throws {
        let encoder = try CLIPVision.load(repositoryRoot.appendingPathComponent("models/small-world/encoder").path)
        #expect(encoder.config == .smallWorld)
        check(encoder(try fixture("encoder_pixels")).imageEmbeds, try fixture("encoder_embeds"), "shipped encoder")
    }

    /// AutoImageProcessor (reading the folder's preprocessor_config.json) and the model give what
    /// lorweb's ImageEncoder gives for a shipped example picture.
    @Test func encoderFolderPreprocessesAsLorwebDoes() throws {
        let folder = repositoryRoot.appendingPathComponent("models/small-world/encoder").path
        let encoder = ImageEncoder(model: try CLIPVision.load(folder))
        let image = try Image.read(repositoryRoot.appendingPathComponent("models/small-world/examples/seen_000000_a.png").path)
        let pixels = encoder.preprocess.batch([image]), want = try fixture("encoder_example_pixels")
        #expect(pixels.shape == want.shape && pixels.toArray() == want.toArray(), "pixel_values differ from AutoImageProcessor's")
        check(encoder.embed([image]), try fixture("encoder_example_embeds"), "shipped encoder on AutoImageProcessor's pixels")
    }

    @Test func baseMatchesDiffusers() throws {
        let base = try FluxTransformer.load(repositoryRoot.appendingPathComponent("models/small-world/base").path)
        #expect(base.config == .small)
        let out = withNoGrad {
            base(hiddenStates: try! fixture("base_hidden_states"), encoderHiddenStates: try! fixture("base_encoder_hidden_states"),
                 pooledProjections: try! fixture("base_pooled_projections"), timestep: try! fixture("base_timestep"),
                 guidance: try! fixture("base_guidance"), imgIds: try! fixture("base_img_ids"), txtIds: try! fixture("base_txt_ids"))
        }
        check(out, try fixture("base_sample"), "shipped base")
    }

    @Test func defaultModelsLoadOnTheShippedBaseAndEncoder() throws {
        for name in ["lorweb", "single-lora"] {
            let model = try LoRWeBModel.load(repositoryRoot.appendingPathComponent("models/small-world/\(name)").path)
            #expect(model.adapters.layers.count == 52, "\(name)")
        }
    }
}
