public import Foundation
import Testing

/// Runs `normd` like `Normd.run`, but under a virtual-memory cap (`ulimit -v`) and a timeout, for
/// tests of inputs that used to exhaust memory or spin: a regression then fails the test (killed,
/// or out of memory) instead of taking the shared machine down with it.
public enum BoundedNormd {
    /// - Parameters:
    ///   - timeout: generous; only a hang should reach it.
    ///   - memoryKiB: the address-space cap; 4 GB leaves the Swift runtime ample room.
    public static func run(
        _ arguments: [String], in directory: URL, timeout: Duration = .seconds(30),
        memoryKiB: Int = 4_000_000
    ) throws -> Normd.Result {
        try Normd.requireBinary()
        let capture = try ScratchDirectory()
        // $0 is normd, $1 the working directory; the shell becomes normd (exec), so a timeout kills normd itself.
        let script = "cd \"$1\" && shift && ulimit -v \(memoryKiB) && SWIFT_BACKTRACE=enable=no exec \"$0\" \"$@\""
        let process = try Subprocess(
            "normd", executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: ["-c", script, Normd.binary.path, directory.path] + arguments, in: capture.url)
        let status = try process.waitForExit(timeout: timeout)
        return Normd.Result(status: status, stdout: process.stdout, stderr: process.stderr)
    }
}
