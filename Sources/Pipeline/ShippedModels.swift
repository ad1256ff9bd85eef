import Foundation
import Formats

// The models committed with lorweb (models/small-world): the pretrained encoder and base editor
// of the small world and the LoRWeB runs trained on them. Commands find them without being told
// where the repository is, so `lorweb edit ...` works from any folder.

public enum ShippedModels {
    /// The default model every command uses without `--model`.
    public static var defaultModel: String { get throws { try folder() + "/lorweb" } }
    public static var singleLoRA: String { get throws { try folder() + "/single-lora" } }
    public static var base: String { get throws { try folder() + "/base" } }
    public static var encoder: String { get throws { try folder() + "/encoder" } }

    static let relative = "models/small-world"

    /// `$LORWEB_MODELS` when set, else the first models/small-world found walking up from the
    /// executable (a build inside the repository) or from the working directory.
    public static func folder() throws -> String {
        if let env = ProcessInfo.processInfo.environment["LORWEB_MODELS"], !env.isEmpty { return env }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for start in [executable, URL(fileURLWithPath: FileManager.default.currentDirectoryPath)] {
            var dir = start.standardizedFileURL
            while true {
                let candidate = dir.appendingPathComponent(relative)
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("encoder").path) { return candidate.path }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        throw FormatError(relative, "the shipped models were not found (looked above the lorweb executable and the working folder); pass --model or set LORWEB_MODELS")
    }
}
