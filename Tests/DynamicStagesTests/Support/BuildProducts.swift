import Foundation
import Testing

/// Where `swift build` / `swift test` put the daemon and the example plugins: next to the test
/// bundle (`/proc/self/exe`'s folder), with the repository's `.build/debug` as a fallback.
enum BuildProducts {
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let directory: URL = {
        let bundleDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: bundleDirectory.appendingPathComponent("normd").path) { return bundleDirectory }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }()

    static var normd: URL { directory.appendingPathComponent("normd") }
    /// The C example (`Plugins/Examples/RobustScale`), kind `robust_scale`.
    static var robustScale: String { directory.appendingPathComponent("libNormdRobustScale.so").path }
    /// The Swift example (`Plugins/Examples/Log1p`), kind `log1p`.
    static var log1p: String { directory.appendingPathComponent("libNormdLog1p.so").path }
    /// The C example that reads its configuration through the host services (`Plugins/Examples/Clamp`), kind `clamp`.
    static var clamp: String { directory.appendingPathComponent("libNormdClamp.so").path }
    /// `normd_stage.h`'s directory, for compiling test plugins.
    static var abiHeaders: String { repositoryRoot.appendingPathComponent("Sources/CStageABI/include").path }

    /// Fails the test (rather than skipping it) when a product was not built.
    static func require(_ path: String) throws {
        try #require(FileManager.default.fileExists(atPath: path), "\(path) was not built; run `swift build` first")
    }
}

/// A fresh directory per test, removed at the end.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("normd-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Resolved (`/tmp` may be a symlink), so expected messages match what the loader prints.
    var path: String { url.resolvingSymlinksInPath().path }

    func path(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        let target = path(name)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }
}
