public import Foundation
import Testing

/// The Python clients in `Tests/EndToEndTests/Python/`, run with the machine's python3 (pyzmq and
/// NumPy required: a missing module makes the client exit non-zero and the test fail, never skip).
public enum PythonClient {
    public static let scriptDirectory = BuildProducts.repositoryRoot.appendingPathComponent("Tests/EndToEndTests/Python")

    /// Starts `script` with `config` as its JSON argument.
    public static func start(_ script: String, config: [String: Any], name: String, in scratch: ScratchDirectory) throws -> Subprocess {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        return try Subprocess(
            name, executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: ["python3", scriptDirectory.appendingPathComponent(script).path, json], in: scratch.url)
    }

    /// Waits for a client and parses the JSON object it printed.
    public static func result(of client: Subprocess, timeout: Duration = .seconds(30)) throws -> [String: Any] {
        let status = try client.waitForExit(timeout: timeout)
        try #require(status == 0, "\(client.name) exited with \(status) (python3 with pyzmq and numpy is required):\n\(client.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(client.stdout.utf8)) as? [String: Any]
        return try #require(object, "\(client.name) printed no JSON object: \(client.stdout)")
    }
}

/// One message a producer sends: rows `rows` of the rows file, encoded as `kind`.
public struct MessageSpec {
    public var kind = "tensor"
    public var rows: Range<Int>
    public var dtype = "<f4"
    public var oneDimensional = false
    public var seq: Int?
    public var producer: String?
    public var topic: String?
    public var nanRow = 0

    public init(
        kind: String = "tensor", rows: Range<Int>, dtype: String = "<f4", oneDimensional: Bool = false, seq: Int? = nil,
        producer: String? = nil, topic: String? = nil, nanRow: Int = 0
    ) {
        self.kind = kind
        self.rows = rows
        self.dtype = dtype
        self.oneDimensional = oneDimensional
        self.seq = seq
        self.producer = producer
        self.topic = topic
        self.nanRow = nanRow
    }

    public var json: [String: Any] {
        var object: [String: Any] = [
            "kind": kind, "rows": [rows.lowerBound, rows.upperBound], "dtype": dtype,
            "one_d": oneDimensional, "nan_row": nanRow,
        ]
        if let seq { object["seq"] = seq }
        if let producer { object["producer"] = producer }
        if let topic { object["topic"] = topic }
        return object
    }

    /// Consecutive tensor messages of the given sizes, numbered from 0 by `producer`.
    public static func tensors(sizes: [Int], producer: String, dtype: String = "<f4", from start: Int = 0) -> [MessageSpec] {
        var next = start
        return sizes.enumerated().map { index, size in
            defer { next += size }
            return MessageSpec(rows: next..<(next + size), dtype: dtype, seq: index, producer: producer)
        }
    }
}

/// `producer.py`: sends `messages` (rows from `rowsFile`) to `endpoint`.
public struct Producer {
    public var endpoint: String
    public var socket = "push"
    public var rowsFile: String
    public var messages: [MessageSpec]
    /// Send one-row probes until this file exists (a consumer creates it on its first message).
    public var probeReadyFile: String?
    public var probeTopic: String?
    public var probeKind = "tensor"

    public init(
        endpoint: String, socket: String = "push", rowsFile: String, messages: [MessageSpec], probeReadyFile: String? = nil,
        probeTopic: String? = nil, probeKind: String = "tensor"
    ) {
        self.endpoint = endpoint
        self.socket = socket
        self.rowsFile = rowsFile
        self.messages = messages
        self.probeReadyFile = probeReadyFile
        self.probeTopic = probeTopic
        self.probeKind = probeKind
    }

    public var config: [String: Any] {
        var object: [String: Any] = ["endpoint": endpoint, "socket": socket, "rows_file": rowsFile, "messages": messages.map(\.json)]
        if let probeReadyFile {
            var probe: [String: Any] = ["ready_file": probeReadyFile, "kind": probeKind]
            if let probeTopic { probe["topic"] = probeTopic }
            object["probe"] = probe
        }
        return object
    }

    public func start(in scratch: ScratchDirectory, name: String = "producer") throws -> Subprocess {
        try PythonClient.start("producer.py", config: config, name: name, in: scratch)
    }

    public struct Result {
        /// Probe messages sent before the measured ones (one row each).
        public var probes: Int
        /// Wall-clock time (seconds since 1970) after the last message was sent.
        public var sentAt: Double
    }

    /// Runs to completion.
    @discardableResult
    public func run(in scratch: ScratchDirectory, name: String = "producer") throws -> Result {
        try Self.result(of: try start(in: scratch, name: name), messages: messages.count)
    }

    public static func result(of client: Subprocess, messages: Int) throws -> Result {
        let result = try PythonClient.result(of: client)
        #expect(result["sent"] as? Int == messages)
        return Result(probes: result["probes"] as? Int ?? 0, sentAt: result["sent_at"] as? Double ?? 0)
    }
}

/// `consumer.py`, started before the rows are sent and collected at the end.
public final class Consumer {
    public struct Message {
        public var frames: Int
        public var topic: String?
        public var header: [String: Any]?
        public var data: [[Double]]
        public var receivedAt: Double

        public var rows: Int { data.count }
        public var batch: Int? { header?["batch"] as? Int }
        public var mode: String? { header?["mode"] as? String }
        public var statsVersion: Int? { header?["stats_version"] as? Int }
        public var sources: [[String: Any]] { header?["sources"] as? [[String: Any]] ?? [] }
    }

    private let process: Subprocess
    public let readyFile: String

    /// - Parameters:
    ///   - expectRows: the consumer stops after this many rows (probe rows not counted).
    public init(
        endpoint: String, socket: String = "pull", codec: String = "tensor", topic: String? = nil,
        expectRows: Int, timeout: Double = 20, in scratch: ScratchDirectory, name: String = "consumer"
    ) throws {
        readyFile = scratch.path("\(name).ready")
        var config: [String: Any] = [
            "endpoint": endpoint, "socket": socket, "codec": codec, "expect_rows": expectRows,
            "timeout": timeout, "ready_file": readyFile,
        ]
        if let topic { config["topic"] = topic }
        process = try PythonClient.start("consumer.py", config: config, name: name, in: scratch)
    }

    /// The messages received; fails the test if the consumer timed out before `expectRows`.
    public func messages(timeout: Duration = .seconds(30), allowTimeout: Bool = false) throws -> [Message] {
        let result = try PythonClient.result(of: process, timeout: timeout)
        if !allowTimeout { #expect(result["timed_out"] as? Bool == false, "consumer timed out before all rows arrived") }
        return (result["messages"] as? [[String: Any]] ?? []).map { object in
            Message(
                frames: object["frames"] as? Int ?? 0, topic: object["topic"] as? String,
                header: object["header"] as? [String: Any],
                data: (object["data"] as? [[NSNumber]] ?? []).map { $0.map(\.doubleValue) },
                receivedAt: object["received_at"] as? Double ?? 0)
        }
    }
}
