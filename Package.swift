// swift-tools-version:6.0
// lorweb: a LoRA-space analysis workbench for LoRWeB (visual analogies with a weight basis of LoRAs).
import PackageDescription

let package = Package(
    name: "lorweb",
    products: [
        .executable(name: "lorweb", targets: ["lorweb"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        // For the fuzzing package under Fuzz/, which builds its harnesses against these.
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: - System libraries (module maps + shims, nothing else)
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE"),
        .systemLibrary(name: "CGraphviz", path: "Sources/CGraphviz"),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo"),
        // libpng and libjpeg report errors by longjmp, which Swift cannot catch: this C shim
        // contains it and returns error codes with the library's message.
        .target(name: "CImageIO", linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
        // Softmax exponentials built for AVX-512/AVX2 as well (Swift code compiles for baseline SSE), picked at run time.
        .target(name: "CKernels"),

        // MARK: - Libraries (dependencies point one way: Tensor <- ... <- lorweb)
        .target(name: "Tensor", dependencies: ["CBLAS", "CLAPACKE", "CKernels"]),
        .target(name: "Formats", dependencies: ["Tensor", "CImageIO", "Yams"]),
        .target(name: "Models", dependencies: ["Tensor", "Formats"]),
        .target(name: "Pipeline", dependencies: ["Tensor", "Formats", "Models"]),
        .target(name: "Figures", dependencies: ["Formats", "CCairo"]),
        .target(name: "Analysis", dependencies: ["Tensor", "Formats", "Models", "Pipeline", "Figures", "CGraphviz"]),

        // MARK: - Command-line tool
        .executableTarget(
            name: "lorweb",
            dependencies: ["Tensor", "Formats", "Models", "Pipeline", "Analysis", "Figures", "CBLAS", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // MARK: - Tests
        // Running the built binary and crafted bad inputs, shared by the test targets below.
        .target(name: "TestSupport", dependencies: ["Formats"], path: "Tests/Support"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"], resources: [.copy("../Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Formats", "Tensor"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Models", "Formats", "Tensor"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Models", "Formats", "Tensor", "TestSupport"]),
        // Runs the built `lorweb` binary: the bad-input catalogue, kill/resume, determinism.
        .testTarget(name: "CLITests", dependencies: ["Pipeline", "Formats", "Tensor", "TestSupport"]),
        .testTarget(name: "FiguresTests", dependencies: ["Figures", "Formats"]),
    ],
    swiftLanguageModes: [.v5]
)
