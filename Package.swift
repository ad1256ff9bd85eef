// swift-tools-version:6.0
// lorweb: a LoRA-space analysis workbench for LoRWeB (visual analogies with a weight basis of LoRAs).
//
// The targets, bottom to top; each uses only targets below it:
//
//   C shims (BLAS, LAPACK, image codecs, graphviz, cairo, kernels, build info)
//     -> Tensor -> Formats -> Models -> Training / SmallWorld -> Pipeline -> Analysis / Figures -> lorweb
//
// Where a change goes: a tensor op in Tensor; a file format or a check of untrusted input in
// Formats; a network in Models; the optimiser or the training loop in Training; the synthetic
// dataset in SmallWorld; the analogy, editing, training LoRWeB and evaluation in Pipeline; studies
// of a basis in Analysis, plots in Figures; options and printing in lorweb (Sources/lorweb).
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
        // The git commit of the build, from a header `make` writes (`lorweb --version`).
        .target(name: "CBuildInfo"),

        // MARK: - Libraries, bottom to top (dependencies point one way: each uses only those above it)
        // Tensors, autograd, BLAS/LAPACK kernels, threads, the seeded RNG.
        .target(name: "Tensor", dependencies: ["CBLAS", "CLAPACKE", "CKernels"]),
        // File formats and untrusted input: safetensors, images, CSV/JSON/YAML, adapter configs, locks.
        .target(name: "Formats", dependencies: ["Tensor", "CImageIO", "CBuildInfo", "Yams"]),
        // The networks, written to read like their upstream: Flux transformer, CLIP vision, the LoRA basis.
        .target(name: "Models", dependencies: ["Tensor", "Formats"]),
        // Training machinery for any model: AdamW, schedules, clipping, data order, the loop,
        // checkpoints, metrics log, progress, stop signals.
        .target(name: "Training", dependencies: ["Tensor", "Formats"]),
        // The synthetic dataset: scenes, edit families, tasks, synth, manifest.
        .target(name: "SmallWorld", dependencies: ["Tensor", "Formats"]),
        // The LoRWeB editor itself: the analogy (grid, buckets, crops, folders), codec, base editor,
        // adapters' training and pretraining, evaluation, shipped models.
        .target(name: "Pipeline", dependencies: ["Tensor", "Formats", "Models", "Training", "SmallWorld"]),
        // Plots (Cairo), independent of the models.
        .target(name: "Figures", dependencies: ["Formats", "CCairo"]),
        // Studies of a trained basis and of LoRA collections: spectra, PCA, key graphs, reports, export.
        .target(name: "Analysis", dependencies: ["Tensor", "Formats", "Models", "Pipeline", "SmallWorld", "Figures", "CGraphviz"]),

        // MARK: - Command-line tool (options, errors and printing; the work is in the libraries)
        .executableTarget(
            name: "lorweb",
            dependencies: ["Tensor", "Formats", "Models", "Training", "SmallWorld", "Pipeline", "Analysis", "Figures", "CBLAS",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // MARK: - Tests (one target per library; CLITests runs the built binary)
        // Scratch folders, fixtures, bit equality and running the built binary, shared by every test target.
        .target(name: "TestSupport", dependencies: ["Formats", "Tensor"], path: "Tests/Support"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Formats", "Tensor", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Formats", "Tensor", "TestSupport"]),
        .testTarget(name: "SmallWorldTests", dependencies: ["SmallWorld", "Formats", "Tensor", "TestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Training", "SmallWorld", "Models", "Formats", "Tensor", "TestSupport"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Pipeline", "Models", "Formats", "Tensor", "TestSupport"]),
        .testTarget(name: "FiguresTests", dependencies: ["Figures", "Formats", "TestSupport"]),
        // Runs the built `lorweb` binary: the bad-input catalogue, kill/resume, determinism, --help and --version.
        .testTarget(name: "CLITests", dependencies: ["Pipeline", "Training", "SmallWorld", "Formats", "Tensor", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
