public import Foundation
import Testing

/// A child process whose stdout and stderr go to files, killed (SIGKILL) when the value is
/// released while it still runs — so a failing test never leaves a daemon or client behind.
public final class Subprocess {
    public struct Timeout: Error, CustomStringConvertible {
        public var description: String
    }

    public let name: String
    public let stdoutURL: URL
    public let stderrURL: URL
    private let process = Process()

    /// Starts `executable arguments` in `directory`, capturing output in
    /// `outputDirectory/<name>.stdout|.stderr` (`directory` when nil). `environment` adds to (or
    /// replaces entries of) this process's environment for the child only.
    public init(
        _ name: String, executable: URL, arguments: [String], in directory: URL, outputDirectory: URL? = nil,
        environment: [String: String] = [:]
    ) throws {
        self.name = name
        stdoutURL = (outputDirectory ?? directory).appendingPathComponent("\(name).stdout")
        stderrURL = (outputDirectory ?? directory).appendingPathComponent("\(name).stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, child in child }
        }
        let out = try FileHandle(forWritingTo: stdoutURL), err = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        defer { try? out.close(); try? err.close() }
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var isRunning: Bool { process.isRunning }
    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    public var processIdentifier: Int32 { process.processIdentifier }

    public func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Waits for the process to end and returns its exit status.
    /// - Throws: `Timeout` (after killing it) when it is still running after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration) throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                signal(SIGKILL)
                process.waitUntilExit()
                throw Timeout(description: "\(name) still running after \(timeout); killed. stderr:\n\(stderr)")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return process.terminationStatus
    }
}

/// Polls `condition` every 10 ms until it returns a value or `timeout` passes.
public func waitFor<T>(_ what: @autoclosure () -> String, timeout: Duration, _ condition: () throws -> T?) throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try condition() { return value }
        if ContinuousClock.now > deadline { throw Subprocess.Timeout(description: "timed out after \(timeout) waiting for \(what())") }
        Thread.sleep(forTimeInterval: 0.01)
    }
}
