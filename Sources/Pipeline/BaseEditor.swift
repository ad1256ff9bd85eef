import Foundation
import Formats
import Models
import Tensor

// A base editor is a diffusers FluxTransformer2DModel folder plus, for the small world's own
// base, two lorweb sidecars that say how to talk to it: the codec that turns pictures into its
// tokens and what its output means. A folder without them (Flux.1-Kontext itself, or a base made
// by an earlier lorweb) follows the release's convention: velocity on plain space-to-depth tokens.

/// What the transformer's output is.
public enum PredictionType: String, Codable, Sendable {
    /// The flow's velocity eps - x0, as Flux-Kontext predicts.
    case velocity
    /// The clean sample x0: a 256-wide stream cannot carry 192-d noise through to a velocity at
    /// high noise, where an editor's decisions are made (Li & He 2025, "Back to Basics"; measured:
    /// +2.3 dB on edits after 400 steps against velocity).
    case sample
    /// x0 as a correction to the context token at the same place: x0 = context + output. The
    /// small base predicts it: every Kontext edit is mostly a copy of its context, which Flux
    /// learns through attention with a 3072-wide stream and 128-d heads; the small stream copied
    /// at 30.6 dB after 6000 steps, and what it lost of b cost LoRWeB more than its edit gained
    /// (preservation 21.6 dB). With the copy as the starting point (the zero-initialised output is
    /// the identity edit), training spends every step on the edit. Needs target and context of
    /// one layout, as Kontext grids have.
    case contextResidual = "context-residual"
}

public struct BaseEditorSettings: Codable, Equatable, Sendable {
    public enum Codec: String, Codable, Sendable {
        case spaceToDepth = "space-to-depth", whitenedSpaceToDepth = "whitened-space-to-depth"
    }
    /// Where training measures the error of an output.
    public enum LossSpace: String, Codable, Sendable, CaseIterable {
        /// In the codec's latents: for a whitened codec every direction of a latent pixel weighs
        /// the same, so a token's fine detail counts as much as its colour.
        case latents
        /// On the decoded pictures (the codec's linear part): errors weigh by how much they change
        /// the picture, as PSNR does. On the small world the three largest of the 48 directions of
        /// a latent pixel hold 78% of the pixels' variance but 11% of the whitened loss.
        case pixels
    }
    /// Where the flow starts (t = 1) for the target tokens.
    public enum FlowSource: String, Codable, Sendable, CaseIterable {
        /// Pure Gaussian noise, as Flux-Kontext samples.
        case noise
        /// The context token at the same place plus `flowSourceNoise` Gaussian noise: a bridge
        /// from the picture being edited to its edit. At t = 1 a target token then carries its own
        /// context and an edit of it is a function of the token itself, where a noise-sourced
        /// base must first fetch it through attention (which a small stream does coarsely).
        /// Needs target and context of one layout, as Kontext grids have.
        case context
    }
    public var prediction: PredictionType
    public var codec: Codec
    /// The Euler step count this base samples best with, as its pretraining evaluation measured
    /// it; nil: the release's 28.
    public var samplingSteps: Int?
    /// The noise levels it was trained on, which its adapters should be trained on too; nil: the release's.
    public var trainingTimesteps: TimestepSampling?
    /// Image pixels per latent pixel along each side; nil: 4. A token packs 2x2 latent pixels, so
    /// at 2 a token covers 4x4 pixels and is 48-d (Flux's: 64-d) instead of 8x8 pixels and 192-d.
    public var downsampling: Int?
    /// Where it was trained to measure errors, and its adapters should be; nil: latents.
    public var lossSpace: LossSpace?
    /// Where its flow starts, and with how much noise (std, in the codec's units; nil: 1) for
    /// `.context`; nil: pure noise.
    public var flowSource: FlowSource?
    public var flowSourceNoise: Float?
    public init(prediction: PredictionType = .velocity, codec: Codec = .spaceToDepth, samplingSteps: Int? = nil,
                trainingTimesteps: TimestepSampling? = nil, downsampling: Int? = nil, lossSpace: LossSpace? = nil,
                flowSource: FlowSource? = nil, flowSourceNoise: Float? = nil) {
        self.prediction = prediction; self.codec = codec; self.samplingSteps = samplingSteps; self.trainingTimesteps = trainingTimesteps
        self.downsampling = downsampling; self.lossSpace = lossSpace; self.flowSource = flowSource; self.flowSourceNoise = flowSourceNoise
    }

    /// The flow's starting point as a batch's sampler and training see it.
    public var flowStart: FlowStart {
        flowSource == .context ? .context(noise: flowSourceNoise ?? 1) : .noise
    }

    /// The release's Euler step count.
    public static let releaseSteps = 28
    public var steps: Int { samplingSteps ?? Self.releaseSteps }
    /// The codecs' space-to-depth factor when a base does not say.
    public static let defaultDownsampling = 4
    public var factor: Int { downsampling ?? Self.defaultDownsampling }

    enum CodingKeys: String, CodingKey {
        case prediction, codec, samplingSteps = "sampling_steps", trainingTimesteps = "training_timesteps", downsampling
        case lossSpace = "loss_space", flowSource = "flow_source", flowSourceNoise = "flow_source_noise"
    }

    public static let file = "lorweb_base.json"
    /// In a subfolder: every `*.safetensors` directly in the base folder is a shard of the transformer.
    public static let codecFolder = "lorweb_codec", codecFile = codecFolder + "/whitening.safetensors"

    /// The settings and codec of the base at `path` (a folder; a single weights file has none).
    public static func read(base path: String) throws -> (settings: BaseEditorSettings, codec: LatentCodec) {
        var isFolder: ObjCBool = false
        let settingsPath = path + "/" + file
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue,
              FileManager.default.fileExists(atPath: settingsPath) else { return (BaseEditorSettings(), SpaceToDepthCodec()) }
        let data = try readFileBytes(settingsPath)
        let settings: BaseEditorSettings
        do {
            settings = try JSONDecoder().decode(BaseEditorSettings.self, from: data)
            if let n = settings.samplingSteps, !(1...1000).contains(n) { throw CodecError("sampling_steps \(n) is not in 1...1000") }
            if let f = settings.downsampling, !(1...16).contains(f) { throw CodecError("downsampling \(f) is not in 1...16") }
            if let s = settings.flowSourceNoise, !(s.isFinite && s >= 0) { throw CodecError("flow_source_noise \(s) is not a finite value >= 0") }
        } catch {
            throw FormatError(settingsPath, "is not a lorweb base settings file ({\"prediction\": \"velocity\"|\"sample\"|\"context-residual\", \"codec\": \"space-to-depth\"|\"whitened-space-to-depth\", \"sampling_steps\": 1...1000, \"downsampling\": 1...16, \"loss_space\": \"latents\"|\"pixels\", \"flow_source\": \"noise\"|\"context\", \"flow_source_noise\": >= 0}): \(error)")
        }
        switch settings.codec {
        case .spaceToDepth: return (settings, SpaceToDepthCodec(factor: settings.factor))
        case .whitenedSpaceToDepth:
            let codecPath = path + "/" + codecFile
            let f = try SafetensorsFile(path: codecPath)
            do {
                let k = WhitenedSpaceToDepthCodec.keys
                return (settings, try WhitenedSpaceToDepthCodec(mean: try f.weight(k.mean), whiten: try f.weight(k.whiten), unwhiten: try f.weight(k.unwhiten),
                                                                factor: settings.factor))
            } catch let e as CodecError {
                throw FormatError(codecPath, e.description)
            }
        }
    }

    /// Writes the settings (and a whitened codec's tensors) into the base folder `folder`.
    public func write(codec: LatentCodec, to folder: String) throws {
        if let whitened = codec as? WhitenedSpaceToDepthCodec {
            precondition(self.codec == .whitenedSpaceToDepth && factor == whitened.downsampling,
                         "base settings name codec \(self.codec.rawValue) at \(factor) but a whitened codec at \(whitened.downsampling) was given")
            let k = WhitenedSpaceToDepthCodec.keys
            try AtomicFile.createFolder(folder + "/" + Self.codecFolder)
            try Safetensors.write([(k.mean, whitened.mean), (k.whiten, whitened.whiten), (k.unwhiten, whitened.unwhiten)],
                                  dtype: .f32, metadata: ["format": "pt"], to: folder + "/" + Self.codecFile)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: folder + "/" + Self.file)
    }
}
