// swift-tools-version:6.0
// libFuzzer harnesses for lorweb's readers of untrusted files, with AddressSanitizer. A separate
// package so that the main build and `make test` never see the fuzzer runtime; `make fuzz`
// builds and runs them (see the Makefile for the flags).
import PackageDescription

func harness(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    // -parse-as-library: the harness has no main; libFuzzer's runtime provides it.
    .executableTarget(name: name, dependencies: dependencies, path: "Sources/\(name)",
                      swiftSettings: [.unsafeFlags(["-parse-as-library"])])
}

let formats: Target.Dependency = .product(name: "Formats", package: "lorweb")
let pipeline: Target.Dependency = .product(name: "Pipeline", package: "lorweb")

let package = Package(
    name: "lorweb-fuzz",
    dependencies: [.package(name: "lorweb", path: "..")],
    targets: [
        harness("fuzz-safetensors", [formats]),
        harness("fuzz-png", [formats]),
        harness("fuzz-jpeg", [formats]),
        harness("fuzz-config", [formats]),
        harness("fuzz-analogy-folder", [formats, pipeline]),
        harness("fuzz-triplets", [formats]),
    ],
    swiftLanguageModes: [.v5]
)
