public import Foundation
import Testing

/// A child process whose stdout and stderr go to files, killed (SIGKILL) and waited for when the
/// value is released while it still runs — so a failing test never leaves a daemon or client behind.
///
/// The child starts with no signal blocked and every signal at its default action (`CleanSpawn`),
/// whatever the spawning thread blocks or the test process ignores: SIGTERM ends a Python client.
public final class Subprocess {
    public struct Timeout: Error, CustomStringConvertible {
        public var description: String
    }

    public let name: String
    public let stdoutURL: URL
    public let stderrURL: URL
    public let processIdentifier: Int32
    /// Set once the child has been reaped (`reap`).
    private var exitStatus: Int32?

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
        let out = try FileHandle(forWritingTo: stdoutURL), err = try FileHandle(forWritingTo: stderrURL)
        defer { try? out.close(); try? err.close() }
        processIdentifier = try CleanSpawn.start(
            executable: executable.path, arguments: arguments, directory: directory.path,
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { _, child in child },
            stdout: out.fileDescriptor, stderr: err.fileDescriptor)
    }

    deinit { stop() }

    public var isRunning: Bool { reap(blocking: false) == nil }
    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Sends `number` while the child runs (never to a reaped, possibly reused, pid).
    public func signal(_ number: Int32) {
        if isRunning { kill(processIdentifier, number) }
    }

    /// SIGKILL (it cannot be blocked, ignored or handled), then waits until the child is gone: once
    /// this returns it holds no socket and sends nothing. Background clients call it before their
    /// daemon stops, so none can reconnect to a port the daemon released and another test was given.
    public func stop() {
        signal(SIGKILL)
        _ = reap(blocking: true)
    }

    /// Waits for the process to end and returns its exit status, or the number of the signal that
    /// ended it (as Foundation's `terminationStatus`).
    /// - Throws: `Timeout` (after killing it) when it is still running after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration) throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = reap(blocking: false) { return status }
            if ContinuousClock.now > deadline {
                stop()
                throw Timeout(description: "\(name) still running after \(timeout); killed. stderr:\n\(stderr)")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// The exit status (or ending signal) once the child has ended, nil while it runs. In the raw
    /// `waitpid` status, `status & 0x7f` is the ending signal (0 after a normal exit, whose code is
    /// `(status >> 8) & 0xff`).
    private func reap(blocking: Bool) -> Int32? {
        while exitStatus == nil {
            var status: Int32 = 0
            let result = waitpid(processIdentifier, &status, blocking ? 0 : WNOHANG)
            if result == processIdentifier {
                exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
            } else if result == 0 {
                return nil
            } else if errno != EINTR {
                exitStatus = -1 // ECHILD: nothing left to wait for
            }
        }
        return exitStatus
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
