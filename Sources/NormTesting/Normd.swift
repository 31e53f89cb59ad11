public import Foundation
import Testing

/// Where `swift build` / `swift test` put the daemon and the example plugins: next to the test
/// bundle (`/proc/self/exe`'s folder), with the repository's `.build/debug` as a fallback.
public enum BuildProducts {
    /// The repository root, from this file's location (Sources/NormTesting/Normd.swift).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let directory: URL = {
        let bundleDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: bundleDirectory.appendingPathComponent("normd").path) { return bundleDirectory }
        return repositoryRoot.appendingPathComponent(".build/debug")
    }()

    /// The daemon, as `swift build` made it.
    public static var normd: URL { directory.appendingPathComponent("normd") }
    /// The C example (`Plugins/Examples/RobustScale`), kind `robust_scale`.
    public static var robustScale: String { directory.appendingPathComponent("libNormdRobustScale.so").path }
    /// The Swift example (`Plugins/Examples/Log1p`), kind `log1p`.
    public static var log1p: String { directory.appendingPathComponent("libNormdLog1p.so").path }
    /// The C example that reads its configuration through the host services (`Plugins/Examples/Clamp`), kind `clamp`.
    public static var clamp: String { directory.appendingPathComponent("libNormdClamp.so").path }
    /// `normd_stage.h`'s directory, for compiling test plugins.
    public static var abiHeaders: String { repositoryRoot.appendingPathComponent("Sources/CStageABI/include").path }

    /// Fails the test (rather than skipping it) when a product was not built.
    public static func require(_ path: String) throws {
        try #require(FileManager.default.fileExists(atPath: path), "\(path) was not built; run `swift build` first")
    }
}

/// Runs the built `normd` executable once as a subprocess, as a user or supervisor would, and
/// returns its exit status and whole output. For a daemon that keeps running, see `DaemonProcess`.
public enum Normd {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// stderr split into lines, without empty ones.
        public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
        /// stdout split into lines, without empty ones.
        public var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }

        public init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    public static var repositoryRoot: URL { BuildProducts.repositoryRoot }
    public static var binary: URL { BuildProducts.normd }

    /// Fails the test when the daemon was not built.
    public static func requireBinary() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "normd binary not found at \(binary.path)")
    }

    /// `normd arguments…` in `directory` (the current one when nil), standard input closed.
    public static func run(_ arguments: [String], in directory: URL? = nil) throws -> Result {
        try requireBinary()
        // Files, not pipes: nothing can block on a full pipe, and no reader thread is needed.
        let capture = try ScratchDirectory()
        let process = try Subprocess(
            "normd", executable: binary, arguments: arguments, in: directory ?? capture.url,
            outputDirectory: capture.url)
        let status = try process.waitForExit(timeout: .seconds(600))
        return Result(status: status, stdout: process.stdout, stderr: process.stderr)
    }

    public static func run(_ arguments: [String], in directory: ScratchDirectory) throws -> Result {
        try run(arguments, in: directory.url)
    }

    /// `normd validate --config cfg.yaml` on `yaml` written to `cfg.yaml` in `directory`.
    public static func validate(_ yaml: String, in directory: ScratchDirectory) throws -> Result {
        try directory.write(yaml, to: "cfg.yaml")
        return try run(["validate", "--config", "cfg.yaml"], in: directory)
    }
}

/// A fresh directory per test, removed at the end. Its path is resolved (`/tmp` may be a
/// symlink), so expected messages match the paths the daemon prints.
public final class ScratchDirectory {
    public let url: URL

    public init() throws {
        let created = FileManager.default.temporaryDirectory.appendingPathComponent("normd-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: created, withIntermediateDirectories: true)
        url = created.resolvingSymlinksInPath()
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    public var path: String { url.path }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `text` to `name` (creating folders on the way) and returns its path.
    @discardableResult
    public func write(_ text: String, to name: String) throws -> String {
        let target = path(name)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    /// File names in the directory, sorted (to assert nothing was written).
    public func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }
}
