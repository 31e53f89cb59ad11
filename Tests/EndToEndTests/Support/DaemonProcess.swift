import Foundation
import Testing

/// `normd run` as a subprocess: start it on a configuration, read the endpoints it bound from its
/// log, watch its counts, stop it with SIGTERM. Killed when released, so no test leaves it running.
final class DaemonProcess {
    /// Where a pipeline's sockets ended up (the real port when the config said `tcp://127.0.0.1:*`).
    struct Endpoints {
        var inputs: [Int: String] = [:]
        var output: String?
    }

    let scratch: ScratchDirectory
    let configPath: String
    private let process: Subprocess

    /// Writes `config` to the scratch directory and starts `normd run` on it.
    init(config: String, scratch: ScratchDirectory, name: String = "normd", countsInterval: Double = 0.2) throws {
        try #require(FileManager.default.isExecutableFile(atPath: Normd.binary.path), "normd binary not found at \(Normd.binary.path)")
        self.scratch = scratch
        configPath = try scratch.write(config, to: "\(name).yaml")
        process = try Subprocess(name, executable: Normd.binary,
                                 arguments: ["run", "--config", configPath, "--counts-interval", "\(countsInterval)"],
                                 in: scratch.url)
    }

    /// Starts the daemon and waits until it logs "normd running" (every socket bound).
    static func started(config: String, scratch: ScratchDirectory, name: String = "normd") throws -> DaemonProcess {
        let daemon = try DaemonProcess(config: config, scratch: scratch, name: name)
        _ = try daemon.waitForLine("'normd running'") { $0.message == "normd running" }
        return daemon
    }

    var stderr: String { process.stderr }
    var isRunning: Bool { process.isRunning }

    /// A line of `/proc/<pid>/status` in KiB (`VmRSS`, or `VmHWM`: the peak resident set so far).
    func memoryKiB(_ field: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix(field + ":") }, "no \(field) in /proc status")
        return try #require(Int(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).dropLast(3)
            .trimmingCharacters(in: .whitespaces)), "unreadable \(line)")
    }

    var logLines: [LogLine] {
        stderr.split(separator: "\n").map { LogLine(String($0)) }
    }

    /// The first log line satisfying `predicate`, waiting up to `timeout`.
    /// - Throws: when the daemon exits first or the deadline passes (with its stderr in the message).
    func waitForLine(_ what: String, timeout: Duration = .seconds(15), where predicate: (LogLine) -> Bool) throws -> LogLine {
        do {
            return try waitFor(what, timeout: timeout) { () throws -> LogLine? in
                if let line = logLines.first(where: predicate) { return line }
                if !process.isRunning, logLines.first(where: predicate) == nil {
                    throw Subprocess.Timeout(description: "normd exited before logging \(what)")
                }
                return nil
            }
        } catch {
            throw Subprocess.Timeout(description: "\(error)\nnormd stderr:\n\(stderr)")
        }
    }

    /// The bound endpoints of `pipeline`, from the "input bound" / "output bound" lines.
    func endpoints(of pipeline: String) throws -> Endpoints {
        var endpoints = Endpoints()
        for line in logLines where line["pipeline"] == pipeline {
            if line.message == "input bound", let index = line["input"].flatMap(Int.init) { endpoints.inputs[index] = line["endpoint"] }
            if line.message == "output bound" { endpoints.output = line["endpoint"] }
        }
        _ = try #require(endpoints.output, "no 'output bound' line for pipeline \(pipeline):\n\(stderr)")
        return endpoints
    }

    func inputEndpoint(of pipeline: String, input: Int = 0) throws -> String {
        try #require(try endpoints(of: pipeline).inputs[input], "no 'input bound' line for \(pipeline) input \(input):\n\(stderr)")
    }

    func outputEndpoint(of pipeline: String) throws -> String {
        try #require(try endpoints(of: pipeline).output)
    }

    /// Waits for a counts line of `pipeline` whose counts satisfy `predicate` (e.g. every row read).
    @discardableResult
    func waitForCounts(of pipeline: String, timeout: Duration = .seconds(15), _ what: String,
                       where predicate: (CountsSummary) -> Bool) throws -> CountsSummary {
        let line = try waitForLine("counts of \(pipeline) with \(what)", timeout: timeout) {
            $0.message == "counts" && $0["pipeline"] == pipeline && predicate(CountsSummary(text: $0["counts"] ?? ""))
        }
        return CountsSummary(text: line["counts"] ?? "")
    }

    /// The counts line logged at shutdown for `pipeline`.
    func finalCounts(of pipeline: String) throws -> CountsSummary {
        let line = try #require(logLines.last { $0.message == "final counts" && $0["pipeline"] == pipeline },
                                "no final counts for \(pipeline):\n\(stderr)")
        return CountsSummary(text: line["counts"] ?? "")
    }

    /// Sends SIGTERM and returns the exit status.
    @discardableResult
    func terminate(timeout: Duration = .seconds(15)) throws -> Int32 {
        process.signal(SIGTERM)
        return try process.waitForExit(timeout: timeout)
    }

    /// Sends `number` (SIGHUP, SIGUSR1, a second SIGTERM…) without waiting.
    func send(_ number: Int32) {
        process.signal(number)
    }

    /// Waits for the daemon to exit on its own (a startup failure).
    func waitForExit(timeout: Duration = .seconds(15)) throws -> Int32 {
        try process.waitForExit(timeout: timeout)
    }
}
