public import Foundation
import Testing

/// A `normd run` subprocess for the checkpoint tests: started on a config file with extra
/// arguments, its bound endpoints read from its log, stopped by SIGTERM or killed with SIGKILL.
/// Process handling is `Subprocess`'s (stderr to a file, killed when released).
public final class DaemonUnderTest {
    private let process: Subprocess
    public private(set) var inputEndpoint = ""
    public private(set) var outputEndpoint = ""

    /// Starts `normd run --config config` and waits until it logs "normd running" (or exits).
    public init(config: String, arguments: [String] = [], logDirectory: URL) throws {
        try Normd.requireBinary()
        process = try Subprocess(
            "normd-\(UUID().uuidString)", executable: Normd.binary,
            arguments: ["run", "--config", config, "--counts-interval", "60"] + arguments, in: logDirectory)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && !log.contains("msg=\"normd running\"") {
            try #require(ContinuousClock.now < deadline, "normd did not start: \(log)")
            Thread.sleep(forTimeInterval: 0.01)
        }
        // "normd running" is logged once SIGTERM is trapped: signalling from here on is graceful.
        let lines = log.split(separator: "\n").map { LogLine(String($0)) }
        inputEndpoint = lines.first { $0.message == "input bound" }?["endpoint"] ?? ""
        outputEndpoint = lines.first { $0.message == "output bound" }?["endpoint"] ?? ""
    }

    public var log: String { process.stderr }

    /// Log lines without their `ts=…` field, so they can be compared whole.
    public var logLines: [String] {
        log.split(separator: "\n").map { line in
            line.hasPrefix("ts=") ? String(line.drop { $0 != " " }.dropFirst()) : String(line)
        }
    }

    public var isRunning: Bool { process.isRunning }

    /// SIGTERM, then the exit status (waits for the graceful shutdown).
    @discardableResult
    public func terminate() -> Int32 {
        process.signal(SIGTERM)
        return waitForExit()
    }

    /// Sends `number` (SIGHUP, SIGUSR1, SIGQUIT…) without waiting.
    public func send(_ number: Int32) {
        process.signal(number)
    }

    /// SIGKILL: no flush, no final checkpoint — as a crash or the OOM killer would end it.
    public func kill9() {
        process.signal(SIGKILL)
        _ = waitForExit()
    }

    /// Waits for a daemon that should exit by itself (e.g. refusing its configuration); -1 if it
    /// had to be killed after a minute.
    public func waitForExit() -> Int32 {
        (try? process.waitForExit(timeout: .seconds(60))) ?? -1
    }
}

/// A Python producer/consumer (pyzmq + NumPy), as a trainer's data loader would be.
public enum TensorClient {
    /// Deterministic batch `index`: `rows`×`features` float32 values, the same in every run.
    public static let batchFunction = """
        def batch(i, rows, features):
            rng = np.random.default_rng(1000 + i)
            return (rng.normal(size=(rows, features)) * (1 + i % 3) + i * 0.1).astype('<f4')
        """

    /// Sends batches `indices` one at a time and returns each normalized batch received back.
    public static func exchange(_ daemon: DaemonUnderTest, indices: Range<Int>, rows: Int, features: Int) throws -> [[Float]] {
        try exchange(input: daemon.inputEndpoint, output: daemon.outputEndpoint, indices: indices, rows: rows, features: features)
    }

    /// The same against endpoints known in advance (a daemon whose log cannot be read).
    public static func exchange(input: String, output: String, indices: Range<Int>, rows: Int, features: Int) throws -> [[Float]] {
        let script = """
            import zmq
            \(batchFunction)
            c = zmq.Context()
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 1000); push.connect("\(input)")
            pull = c.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 10000); pull.connect("\(output)")
            out = []
            for i in range(\(indices.lowerBound), \(indices.upperBound)):
                push.send_json({"dtype": "float32", "shape": [\(rows), \(features)]}, zmq.SNDMORE)
                push.send(batch(i, \(rows), \(features)))
                header, payload = pull.recv_multipart()
                out.append(np.frombuffer(payload, "<f4").tolist())
            print(json.dumps(out))
            """
        let output = try PythonScript.run(script)
        let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[Double]]
        return try #require(parsed, "unexpected client output: \(output)").map { $0.map(Float.init) }
    }

    /// Starts a client in `directory` that sends and receives batches until the daemon stops
    /// answering (half a second without progress), for at most 60 s. It never reconnects, so it
    /// cannot reach a daemon given the port after this one is gone.
    public static func startFlood(_ daemon: DaemonUnderTest, rows: Int, features: Int, in directory: URL) throws -> Subprocess {
        let script = """
            import zmq, time
            \(batchFunction)
            c = zmq.Context()
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 0); push.setsockopt(zmq.SNDTIMEO, 500)
            push.setsockopt(zmq.RECONNECT_IVL, -1); push.connect("\(daemon.inputEndpoint)")
            pull = c.socket(zmq.PULL); pull.setsockopt(zmq.LINGER, 0); pull.setsockopt(zmq.RCVTIMEO, 500)
            pull.setsockopt(zmq.RECONNECT_IVL, -1); pull.connect("\(daemon.outputEndpoint)")
            end = time.time() + 60
            try:
                i = 0
                while time.time() < end:
                    push.send_json({"dtype": "float32", "shape": [\(rows), \(features)]}, zmq.SNDMORE)
                    push.send(batch(i, \(rows), \(features)))
                    pull.recv_multipart()
                    i += 1
            except zmq.ZMQError:
                pass
            """
        return try PythonScript.start(script, name: "flood-\(UUID().uuidString.prefix(8))", in: directory)
    }
}

/// `python3 -c` with json and numpy imported; a missing interpreter or module fails the test.
public enum PythonScript {
    static let prelude = "import sys, json\nimport numpy as np\n"

    /// Starts `script` in `directory` as a background client, its output in `name.stdout` and
    /// `name.stderr` there. The `Subprocess` owns it: SIGKILL and a wait when released; call its
    /// `stop()` before stopping the daemon it talks to, and give the script a time limit (and
    /// `RECONNECT_IVL -1` on sockets that connect) so that a forgotten client still ends.
    public static func start(_ script: String, name: String, in directory: URL) throws -> Subprocess {
        try Subprocess(
            name, executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", prelude + script], in: directory)
    }

    /// Runs `script` to the end (in `directory`, or a directory of its own) and returns its stdout;
    /// a non-zero exit fails the test with its stdout and stderr, and one still running after
    /// `timeout` is killed and fails it too.
    public static func run(_ script: String, in directory: URL? = nil, timeout: Duration = .seconds(300)) throws -> String {
        let capture = try ScratchDirectory()
        let process = try Subprocess(
            "python3", executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", prelude + script],
            in: directory ?? capture.url, outputDirectory: capture.url)
        let status = try process.waitForExit(timeout: timeout)
        try #require(status == 0, "python3 with numpy and pyzmq is required; it said: \(process.stdout)\(process.stderr)")
        return process.stdout
    }

    /// Runs `script` (`python3 -c`, nothing imported for it) to the end and returns its standard
    /// output alone, for scripts that print JSON; a non-zero exit fails the test with its stderr.
    public static func standardOutput(of script: String, timeout: Duration = .seconds(120)) throws -> Data {
        let capture = try ScratchDirectory()
        let process = try Subprocess(
            "python3", executable: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", script],
            in: capture.url)
        let status = try process.waitForExit(timeout: timeout)
        try #require(status == 0, "python3 (pyzmq and NumPy required) failed: \(process.stderr)")
        return Data(process.stdout.utf8)
    }
}
