import Foundation
import Testing

/// Runs the built `normd` executable as a subprocess, as a user or supervisor would.
enum Normd {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// stderr split into lines, without the trailing empty one.
        var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }
    }

    /// The repository root, from this file's location (Tests/EndToEndTests/Support/Normd.swift).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `normd` sits next to the test bundle (`swift test` builds it first).
    static let binary: URL = {
        let testBundleDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [testBundleDirectory.appendingPathComponent("normd"),
                          repositoryRoot.appendingPathComponent(".build/debug/normd")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        return testBundleDirectory.appendingPathComponent("normd")
    }()

    static func run(_ arguments: [String], in directory: URL? = nil) throws -> Result {
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "normd binary not found at \(binary.path)")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        // Files, not pipes: nothing can block on a full pipe, and no reader thread is needed.
        let captureDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("normd-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: captureDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: captureDirectory) }
        let outURL = captureDirectory.appendingPathComponent("stdout"), errURL = captureDirectory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        let outData = try Data(contentsOf: outURL), errData = try Data(contentsOf: errURL)
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A fresh directory per test, removed at the end.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("normd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ text: String, to name: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    /// File names in the directory, sorted (to assert nothing was written).
    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }
}
