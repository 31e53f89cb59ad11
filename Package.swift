// swift-tools-version: 6.1
// normd — a ZeroMQ sidecar that normalizes streams of feature vectors for ML trainers.
//
// Dependency direction (enforced by the target graph):
//   normd → {ZeroMQ, WireFormat, NormConfig, Checkpoint, NpyFormat, BuiltinStages} → {Pipeline, StageKit} → NormCore → CKernels
//   normd → AdminServer (HTTP + Prometheus; knows neither ZeroMQ nor the pipelines, only its AdminBackend protocol)
// The core (NormCore, StageKit, Pipeline) imports neither Yams nor libzmq nor the file system.
// `Plugins/` holds *stage* plugins (ordinary library targets with an explicit `path:`), not SwiftPM package plugins.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "normd",
    platforms: [.macOS(.v15)], // Synchronization's Mutex and Atomic,
    products: [
        .executable(name: "normd", targets: ["normd"]),
        // Example run-time stage plugins (Plugins/Examples), built as shared libraries for `plugins:`.
        .library(name: "NormdRobustScale", type: .dynamic, targets: ["RobustScalePlugin"]),
        .library(name: "NormdLog1p", type: .dynamic, targets: ["Log1pPlugin"]),
        .library(name: "NormdClamp", type: .dynamic, targets: ["ClampPlugin"]),
        // For Benchmarks/Micro (its own package, depending on this one by path); nothing here uses it.
        .library(name: "NormdBenchmarkable", targets: ["NormCore", "StageKit", "Pipeline", "BuiltinStages", "WireFormat"]),
        // For Fuzz/ (its own package: the libFuzzer driver, built with the sanitizers by Scripts/fuzz.sh).
        .library(name: "NormdFuzzTargets", targets: ["FuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // MARK: core — no I/O
        .target(name: "NormCore", dependencies: ["CKernels"], swiftSettings: strict),
        // 8-lane AVX2 versions of NormCore's chain kernels, each compiled for AVX2 per function and
        // picked at run time when the CPU has it (the build itself targets baseline x86-64).
        .target(name: "CKernels"),
        .target(name: "StageKit", dependencies: ["NormCore"], swiftSettings: strict),
        .target(name: "Pipeline", dependencies: ["NormCore", "StageKit", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),

        // MARK: built-in stages (stage plugins compiled in)
        .target(name: "MinMax", dependencies: ["NormCore", "StageKit"], path: "Plugins/MinMax", swiftSettings: strict),
        .target(name: "BatchNorm", dependencies: ["NormCore", "StageKit"], path: "Plugins/BatchNorm", swiftSettings: strict),
        .target(name: "BatchRenorm", dependencies: ["NormCore", "StageKit", "BatchNorm"], path: "Plugins/BatchRenorm", swiftSettings: strict),
        .target(name: "StandardScale", dependencies: ["NormCore", "StageKit"], path: "Plugins/StandardScale", swiftSettings: strict),
        .target(name: "BuiltinStages", dependencies: ["StageKit", "MinMax", "BatchNorm", "BatchRenorm", "StandardScale"], swiftSettings: strict),

        // MARK: run-time stage plugins — a C ABI (header only), the loader, and examples in C and Swift
        .target(name: "CStageABI"),
        .target(name: "DynamicStages", dependencies: ["NormCore", "StageKit", "CStageABI"], swiftSettings: strict),
        .target(name: "RobustScalePlugin", dependencies: ["CStageABI"], path: "Plugins/Examples/RobustScale"),
        .target(name: "Log1pPlugin", dependencies: ["CStageABI"], path: "Plugins/Examples/Log1p", swiftSettings: strict),
        // Reads its configuration through the host services of normd_stage.h (no JSON parser).
        .target(name: "ClampPlugin", dependencies: ["CStageABI"], path: "Plugins/Examples/Clamp"),

        // MARK: formats and adapters
        .target(name: "NpyFormat", dependencies: ["NormCore"], swiftSettings: strict),
        .target(
            name: "NormConfig", dependencies: ["NormCore", "StageKit", "Pipeline", "WireFormat", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        .target(
            name: "Checkpoint", dependencies: ["NormCore", "StageKit", "Pipeline", "NpyFormat", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        // The test kit every test target uses: the conformance suite every stage kind passes, the
        // `normd` subprocess runners, the reference-case loader, sample data, fake stages and sinks.
        .target(name: "NormTesting", dependencies: ["NormCore", "StageKit", "Pipeline", "Checkpoint"], swiftSettings: strict),
        .target(name: "WireFormat", dependencies: ["NormCore", "StageKit", "NpyFormat", "Pipeline"], swiftSettings: strict),
        // The sync group's wire messages (Docs/SYNC.md): encoding and bounded decoding, no sockets.
        .target(name: "SyncProtocol", dependencies: ["StageKit"], swiftSettings: strict),
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        // glibc's <malloc.h> (`mallopt`), for the daemon's allocator policy (Sources/normd/Daemon/AllocatorPolicy.swift).
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], swiftSettings: strict),

        // MARK: fuzzing — the entry points libFuzzer (Fuzz/, Scripts/fuzz.sh) and FuzzCorpusTests share
        .target(
            name: "FuzzTargets",
            dependencies: ["NormCore", "StageKit", "NpyFormat", "WireFormat", "NormConfig", "Checkpoint", "BuiltinStages", "SyncProtocol"],
            swiftSettings: strict),

        // MARK: the admin HTTP server (metrics, health, control)
        .target(
            name: "AdminServer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ], swiftSettings: strict),

        // MARK: composition root
        .executableTarget(
            name: "normd",
            dependencies: [
                "NormCore", "StageKit", "Pipeline", "BuiltinStages", "NpyFormat", "NormConfig", "Checkpoint",
                "WireFormat", "ZeroMQ", "DynamicStages", "AdminServer", "SyncProtocol", "CMalloc",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // MARK: tests
        .testTarget(name: "NormCoreTests", dependencies: ["NormCore"], swiftSettings: strict),
        .testTarget(name: "StageKitTests", dependencies: ["NormCore", "StageKit", "NormTesting"], swiftSettings: strict),
        .testTarget(
            name: "StageTests",
            dependencies: ["NormCore", "StageKit", "MinMax", "BatchNorm", "BatchRenorm", "StandardScale", "BuiltinStages", "NormTesting"],
            swiftSettings: strict),
        .testTarget(
            name: "NormConfigTests", dependencies: ["NormCore", "StageKit", "NormConfig", "BuiltinStages", "NormTesting"], swiftSettings: strict),
        .testTarget(
            name: "FormatTests", dependencies: ["NormCore", "StageKit", "NpyFormat", "Checkpoint", "WireFormat", "NormTesting"], swiftSettings: strict
        ),
        .testTarget(name: "PipelineTests", dependencies: ["NormCore", "StageKit", "Pipeline", "NormTesting"], swiftSettings: strict),
        .testTarget(
            name: "WireFormatTests", dependencies: ["NormCore", "StageKit", "Pipeline", "WireFormat", "NpyFormat", "NormTesting"],
            swiftSettings: strict),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ", "NormTesting"], swiftSettings: strict),
        .testTarget(
            name: "CheckpointTests",
            dependencies: [
                "NormCore", "StageKit", "Pipeline", "Checkpoint", "NormConfig", "BuiltinStages", "NormTesting",
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: strict),
        // Every committed fuzz input (Tests/FuzzCorpus) through the fuzz targets, without the sanitizers.
        .testTarget(name: "FuzzCorpusTests", dependencies: ["FuzzTargets", "NormTesting"], swiftSettings: strict),
        // Drive the built `normd` binary as a subprocess (and a Python client where a user would use one).
        // ZeroMQ and WireFormat for the tests that read the daemon's output frames byte for byte.
        .testTarget(
            name: "EndToEndTests", dependencies: ["normd", "NormTesting", "ZeroMQ", "WireFormat", "Pipeline", "StageKit", "NormCore"],
            exclude: ["Python"], swiftSettings: strict),
        // The plugin loader's failure modes, the conformance suite over every kind, and both example
        // plugins through `normd validate`, `apply` and `run`.
        .testTarget(
            name: "DynamicStagesTests",
            dependencies: [
                "NormCore", "StageKit", "DynamicStages", "NormTesting", "BuiltinStages", "Checkpoint", "NormConfig",
                "NpyFormat", "normd",
            ],
            swiftSettings: strict
        ),
    ]
)
