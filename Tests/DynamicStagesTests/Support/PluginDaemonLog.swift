import Foundation
import Testing

/// Helpers for tests that run `normd run` with plugins: endpoints from its log, a Python peer.
enum PluginDaemonLog {
    /// The `endpoint=` of the first log line containing `message`, waiting up to 10 s for it.
    static func waitForEndpoint(_ message: String, in logPath: String) throws -> String {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("msg=\"\(message)\"") }),
               let range = line.range(of: "endpoint=") {
                return String(line[range.upperBound...].prefix { $0 != " " })
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw TestPlugin.CompileError(description: "no '\(message)' log line within 10 s; log:\n\(text)")
    }

    /// Starts `normd run --config cfg.yaml` in `scratch`, logging to `normd.log` there.
    static func start(in scratch: ScratchDirectory) throws -> (daemon: Process, log: FileHandle, logPath: String) {
        let daemon = Process()
        daemon.executableURL = BuildProducts.normd
        daemon.arguments = ["run", "--config", "cfg.yaml"]
        daemon.currentDirectoryURL = scratch.url
        let logPath = scratch.path("normd.log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        daemon.standardError = log
        daemon.standardOutput = log
        try daemon.run()
        return (daemon, log, logPath)
    }

    /// Runs a python3 script (pyzmq and NumPy required) and returns its stdout.
    static func python(_ script: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 failed: \(String(decoding: errors, as: UTF8.self))")
        return output
    }
}
