// swift-tools-version: 6.1
// Micro-benchmarks of normd's hot path (stage math next to memcpy; allocations per message and
// per batch), with ordo-one/benchmark. Its own package so that `swift test` of the root package
// never builds ordo-one/benchmark. Run: `swift package --package-path Benchmarks/Micro benchmark`
// (Benchmarks/run.sh does it with --micro).
import Foundation
import PackageDescription

// The root package is a path dependency; its identity is its folder's name (a worktree or a CI
// clone may call it anything), so read it from where this manifest lives.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent

let package = Package(
    name: "normd-micro",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: root.path),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NormdBenchmarkable", package: rootIdentity),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
