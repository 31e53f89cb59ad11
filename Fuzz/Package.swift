// swift-tools-version: 6.1
// The libFuzzer driver for normd's fuzz targets (Sources/FuzzTargets in the root package). Its own
// package so that `swift build` / `swift test` of the root never needs libFuzzer or the sanitizers:
// the driver only links with `-sanitize=fuzzer`. Build and run it with `Scripts/fuzz.sh`.
import Foundation
import PackageDescription

// The root package is a path dependency; its identity is its folder's name (a worktree or a CI
// clone may call it anything), so read it from where this manifest lives.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent

let package = Package(
    name: "normd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: root.path)
    ],
    targets: [
        // libFuzzer's entry point, declared for Swift (the library itself comes with -sanitize=fuzzer).
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "normd-fuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "NormdFuzzTargets", package: rootIdentity),
            ]
        ),
    ]
)
