public import Foundation
import Testing

/// `normd run` as a subprocess: start it on a configuration, read the endpoints it bound from its
/// log, watch its counts, stop it with SIGTERM. Killed when released, so no test leaves it running.
public final class DaemonProcess {
    /// Where a pipeline's sockets ended up (the real port when the config said `tcp://127.0.0.1:*`).
    public struct Endpoints {
        public var inputs: [Int: String] = [:]
        public var output: String?
    }

    public let scratch: ScratchDirectory
    public let configPath: String
    private let process: Subprocess

    /// Writes `config` to the scratch directory and starts `normd run` on it.
    public convenience init(config: String, scratch: ScratchDirectory, name: String = "normd", countsInterval: Double = 0.2) throws {
        try self.init(configFile: try scratch.write(config, to: "\(name).yaml"), scratch: scratch, name: name, countsInterval: countsInterval)
    }

    /// Starts `normd run` on a configuration file that is already written (in `scratch` or not), with
    /// `environment` added to the daemon's.
    public init(
        configFile: String, scratch: ScratchDirectory, name: String = "normd", countsInterval: Double = 0.2,
        environment: [String: String] = [:]
    ) throws {
        try Normd.requireBinary()
        self.scratch = scratch
        configPath = configFile
        process = try Subprocess(
            name, executable: Normd.binary,
            arguments: ["run", "--config", configPath, "--counts-interval", "\(countsInterval)"],
            in: scratch.url, environment: environment)
    }

    /// Starts the daemon and waits until it logs "normd running" (every socket bound).
    public static func started(config: String, scratch: ScratchDirectory, name: String = "normd") throws -> DaemonProcess {
        let daemon = try DaemonProcess(config: config, scratch: scratch, name: name)
        _ = try daemon.waitForLine("'normd running'") { $0.message == "normd running" }
        return daemon
    }

    /// Starts the daemon on an existing configuration file and waits until it logs "normd running".
    public static func started(configFile: String, scratch: ScratchDirectory, name: String = "normd") throws -> DaemonProcess {
        let daemon = try DaemonProcess(configFile: configFile, scratch: scratch, name: name)
        _ = try daemon.waitForLine("'normd running'") { $0.message == "normd running" }
        return daemon
    }

    public var stderr: String { process.stderr }
    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// A line of `/proc/<pid>/status` in KiB (`VmRSS`, or `VmHWM`: the peak resident set so far).
    public func memoryKiB(_ field: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix(field + ":") }, "no \(field) in /proc status")
        return try #require(
            Int(
                line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).dropLast(3)
                    .trimmingCharacters(in: .whitespaces)), "unreadable \(line)")
    }

    public var logLines: [LogLine] {
        stderr.split(separator: "\n").map { LogLine(String($0)) }
    }

    /// The first log line satisfying `predicate`, waiting up to `timeout`.
    /// - Throws: when the daemon exits first or the deadline passes (with its stderr in the message).
    public func waitForLine(_ what: String, timeout: Duration = .seconds(15), where predicate: (LogLine) -> Bool) throws -> LogLine {
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
    public func endpoints(of pipeline: String) throws -> Endpoints {
        var endpoints = Endpoints()
        for line in logLines where line["pipeline"] == pipeline {
            if line.message == "input bound", let index = line["input"].flatMap(Int.init) { endpoints.inputs[index] = line["endpoint"] }
            if line.message == "output bound" { endpoints.output = line["endpoint"] }
        }
        _ = try #require(endpoints.output, "no 'output bound' line for pipeline \(pipeline):\n\(stderr)")
        return endpoints
    }

    public func inputEndpoint(of pipeline: String, input: Int = 0) throws -> String {
        try #require(try endpoints(of: pipeline).inputs[input], "no 'input bound' line for \(pipeline) input \(input):\n\(stderr)")
    }

    public func outputEndpoint(of pipeline: String) throws -> String {
        try #require(try endpoints(of: pipeline).output)
    }

    /// Waits for a counts line of `pipeline` whose counts satisfy `predicate` (e.g. every row read).
    @discardableResult
    public func waitForCounts(
        of pipeline: String, timeout: Duration = .seconds(15), _ what: String,
        where predicate: (CountsSummary) -> Bool
    ) throws -> CountsSummary {
        let line = try waitForLine("counts of \(pipeline) with \(what)", timeout: timeout) {
            $0.message == "counts" && $0["pipeline"] == pipeline && predicate(CountsSummary(text: $0["counts"] ?? ""))
        }
        return CountsSummary(text: line["counts"] ?? "")
    }

    /// The counts line logged at shutdown for `pipeline`.
    public func finalCounts(of pipeline: String) throws -> CountsSummary {
        let line = try #require(
            logLines.last { $0.message == "final counts" && $0["pipeline"] == pipeline },
            "no final counts for \(pipeline):\n\(stderr)")
        return CountsSummary(text: line["counts"] ?? "")
    }

    /// Sends SIGTERM and returns the exit status.
    @discardableResult
    public func terminate(timeout: Duration = .seconds(15)) throws -> Int32 {
        process.signal(SIGTERM)
        return try process.waitForExit(timeout: timeout)
    }

    /// Sends `number` (SIGHUP, SIGUSR1, a second SIGTERM…) without waiting.
    public func send(_ number: Int32) {
        process.signal(number)
    }

    /// Waits for the daemon to exit on its own (a startup failure).
    public func waitForExit(timeout: Duration = .seconds(15)) throws -> Int32 {
        try process.waitForExit(timeout: timeout)
    }
}
