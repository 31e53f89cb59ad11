import Foundation
import Testing

/// Runs the built `normd` executable as a subprocess, as a user would.
enum Normd {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
        var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    static func run(_ arguments: [String], in directory: ScratchDirectory) throws -> Result {
        try BuildProducts.require(BuildProducts.normd.path)
        let process = Process()
        process.executableURL = BuildProducts.normd
        process.arguments = arguments
        process.currentDirectoryURL = directory.url
        // Files, not pipes: nothing can block on a full pipe.
        let out = directory.path(".stdout-\(UUID().uuidString)"), err = directory.path(".stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return Result(status: process.terminationStatus,
                      stdout: try String(contentsOfFile: out, encoding: .utf8),
                      stderr: try String(contentsOfFile: err, encoding: .utf8))
    }

    /// `normd validate --config <file>` on `yaml` written to `cfg.yaml` in `directory`.
    static func validate(_ yaml: String, in directory: ScratchDirectory) throws -> Result {
        try directory.write(yaml, to: "cfg.yaml")
        return try run(["validate", "--config", "cfg.yaml"], in: directory)
    }
}
