import Foundation
import NormTesting
import Testing

/// Reloads that change the set of pipelines or their sockets (issue 9 §4 "Pipeline changes"),
/// through the built binary, pyzmq and `POST /reload`: a pipeline whose endpoint changed is drained,
/// flushed and re-bound while the other keeps running; added pipelines start, removed ones stop,
/// flushed, with their final statistics checkpointed. No accepted row is lost, counters never reset.
@Suite(.serialized) struct ReloadPipelinesTests {
    static let features = 3

    /// A pipeline on ipc endpoints in `directory` (stable across a re-bind, unlike `tcp://…:*`).
    static func pipeline(_ name: String, input: String? = nil, in directory: String) -> String {
        """
          - name: \(name)
            features: \(features)
            batch: {size: 8, max_latency: 10s}
            inputs: [{endpoint: "ipc://\(directory)/\(input ?? name + "-in")", socket: pull, bind: true, codec: tensor}]
            output: {endpoint: "ipc://\(directory)/\(name)-out", socket: push, bind: true}
            stages:
              - type: min_max
              - type: batch_norm
                momentum: 0.5
        """
    }

    static func config(_ pipelines: [String], checkpoint: Bool = false, path: String = "state") -> String {
        (checkpoint ? "checkpoint: {path: \(path), every_batches: 1000, every_seconds: 3600}\n" : "")
            + "admin: {listen: \"127.0.0.1:0\"}\npipelines:\n" + pipelines.joined(separator: "\n")
    }

    /// Sends one tensor message of `rows` deterministic rows (batch function index `index`).
    static func send(rows: Int, index: Int, to endpoint: String) throws {
        _ = try PythonScript.run(
            """
            import zmq
            \(TensorClient.batchFunction)
            c = zmq.Context()
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 5000); push.connect("\(endpoint)")
            push.send_json({"dtype": "float32", "shape": [\(rows), \(features)]}, zmq.SNDMORE)
            push.send(batch(\(index), \(rows), \(features)))
            push.close(); c.term()
            """)
    }

    /// Whether anything accepts a connection on a bound ipc endpoint's file now.
    static func accepting(_ path: String) throws -> Bool {
        try PythonScript.run(
            """
            import socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect("\(path)"); print("yes")
            except OSError:
                print("no")
            """) == "yes\n"
    }

    static func reload(_ daemon: DaemonProcess, to text: String, _ admin: AdminHTTP) throws -> AdminHTTP.Answer {
        try text.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        return try admin.post("/reload")
    }

    static func kept(_ pipelines: String...) -> String {
        pipelines.map { #"{"kind":"min_max","pipeline":"\#($0)","stage":0},{"kind":"batch_norm","pipeline":"\#($0)","stage":1}"# }
            .joined(separator: ",")
    }

    /// Pipeline `a`'s input moves to another endpoint: the 5 rows waiting in its batcher are flushed
    /// (a partial batch) before its sockets close, the old endpoint stops accepting, the new one
    /// works, batch numbers and counts continue — and pipeline `b` never stops.
    @Test func aReloadChangingAnEndpointRebindsOnlyThatPipeline() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.url.path
        let before = Self.config([Self.pipeline("a", in: dir), Self.pipeline("b", in: dir)])
        let daemon = try DaemonProcess.started(config: before, scratch: scratch)
        let admin = try AdminHTTP(daemon)
        let consumerA = try Consumer(endpoint: "ipc://\(dir)/a-out", expectRows: 21, timeout: 40, in: scratch, name: "consumer-a")
        let consumerB = try Consumer(endpoint: "ipc://\(dir)/b-out", expectRows: 16, timeout: 40, in: scratch, name: "consumer-b")

        try Self.send(rows: 8, index: 0, to: "ipc://\(dir)/a-in")
        try Self.send(rows: 5, index: 1, to: "ipc://\(dir)/a-in")
        try Self.send(rows: 8, index: 2, to: "ipc://\(dir)/b-in")
        try daemon.waitForCounts(of: "a", "13 rows accepted") { $0["rows_accepted"] == "13" }
        try daemon.waitForCounts(of: "b", "8 rows accepted") { $0["rows_accepted"] == "8" }

        let answer = try Self.reload(daemon, to: Self.config([Self.pipeline("a", input: "a-in-2", in: dir), Self.pipeline("b", in: dir)]), admin)
        #expect(answer.status == 200)
        #expect(answer.body == #"{"result":"success","kept":[\#(Self.kept("a", "b"))],"reset":[],"added":[],"removed":[]}"#)
        #expect(try !Self.accepting("\(dir)/a-in"), "the old endpoint must be closed")
        #expect(try Self.accepting("\(dir)/a-in-2"))

        try Self.send(rows: 8, index: 3, to: "ipc://\(dir)/a-in-2")
        try Self.send(rows: 8, index: 4, to: "ipc://\(dir)/b-in")
        let a = try consumerA.messages(timeout: .seconds(60)), b = try consumerB.messages(timeout: .seconds(60))
        #expect(a.map(\.rows) == [8, 5, 8], "the waiting rows are flushed at the re-bind, none lost")
        #expect(a.map(\.batch) == [0, 1, 2], "batch numbers continue across the re-bind")
        #expect(b.map(\.batch) == [0, 1])
        let versions = a.compactMap(\.statsVersion)
        #expect(versions.count == 3 && versions[2] > versions[1], "statistics continue: \(versions)")
        let list = try #require(try admin.get("/pipelines").json as? [[String: Any]])
        #expect(list.map { $0["name"] as? String } == ["a", "b"])
        let metrics = try admin.metrics()
        #expect(metrics[#"normd_rows_received_total{pipeline="a",input="0"}"#] == 21, "counters are not reset by the re-bind")
        #expect(try daemon.terminate() == 0)
        let stops = daemon.logLines.filter { $0.message == "pipeline stopped" }.map { $0["pipeline"] }
        #expect(stops == ["a", "a", "b"] || stops == ["a", "b", "a"], "b stops only at the shutdown: \(daemon.stderr)")
        #expect(try daemon.finalCounts(of: "a").text.hasPrefix("messages_accepted=3 rows_accepted=21 "), "\(daemon.stderr)")
        #expect(try daemon.finalCounts(of: "a").text.contains(" batches=3 rows_published=21 partial_batches=1 "), "\(daemon.stderr)")
        #expect(try daemon.finalCounts(of: "b").text.hasPrefix("messages_accepted=2 rows_accepted=16 "), "\(daemon.stderr)")
    }

    /// `b` is removed and `c` added: `b`'s waiting rows are flushed, its endpoint closes and its final
    /// statistics are in a generation at once; `c` works; `a` keeps running.
    @Test func aReloadAddsAndRemovesPipelines() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.url.path
        let daemon = try DaemonProcess.started(
            config: Self.config([Self.pipeline("a", in: dir), Self.pipeline("b", in: dir)], checkpoint: true),
            scratch: scratch)
        let admin = try AdminHTTP(daemon)
        let consumerB = try Consumer(endpoint: "ipc://\(dir)/b-out", expectRows: 13, timeout: 40, in: scratch, name: "consumer-b")
        try Self.send(rows: 8, index: 0, to: "ipc://\(dir)/b-in")
        try Self.send(rows: 5, index: 1, to: "ipc://\(dir)/b-in")
        try daemon.waitForCounts(of: "b", "13 rows accepted") { $0["rows_accepted"] == "13" }

        let answer = try Self.reload(daemon, to: Self.config([Self.pipeline("a", in: dir), Self.pipeline("c", in: dir)], checkpoint: true), admin)
        #expect(answer.status == 200)
        #expect(answer.body == #"{"result":"success","kept":[\#(Self.kept("a"))],"reset":[],"added":["c"],"removed":["b"]}"#)
        #expect(try consumerB.messages(timeout: .seconds(60)).map(\.rows) == [8, 5], "the removed pipeline is flushed")
        #expect(try !Self.accepting("\(dir)/b-in"))
        // The reload answers once that generation is durable: the newest one holds b's final statistics.
        let newest = try #require(Self.generations(scratch.path("state")).last)
        let saved = try Self.exported(scratch.path("state/\(newest)"), in: scratch)
        #expect(saved["b/0_min_max/n_samples_seen"] as? Int == 13, "the removed pipeline's final statistics are checkpointed: \(saved.keys.sorted())")

        let c = try TensorClient.exchange(input: "ipc://\(dir)/c-in", output: "ipc://\(dir)/c-out", indices: 0..<1, rows: 8, features: Self.features)
        #expect(c.count == 1 && c[0].count == 8 * Self.features)
        let a = try TensorClient.exchange(input: "ipc://\(dir)/a-in", output: "ipc://\(dir)/a-out", indices: 0..<1, rows: 8, features: Self.features)
        #expect(a == c, "a and c have the same stages and both saw only this batch")
        let list = try #require(try admin.get("/pipelines").json as? [[String: Any]])
        #expect(list.map { $0["name"] as? String } == ["a", "c"])
        #expect(try admin.get("/readyz").status == 200)
        #expect(try admin.get("/healthz").body == #"{"status":"ok"}"#)
        #expect(try daemon.terminate() == 0, "\(daemon.stderr)")
        #expect(try daemon.finalCounts(of: "c").text.hasPrefix("messages_accepted=1 rows_accepted=8 "), "\(daemon.stderr)")
        #expect(
            daemon.logLines.filter { $0.message == "pipeline stopped" && $0["pipeline"] == "a" }.count == 1, "a never stopped before the shutdown")
    }

    /// The generations in `directory`, oldest first.
    static func generations(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("normd-state-") && $0.hasSuffix(".json") }
            .sorted()
    }

    static func exported(_ path: String, in scratch: ScratchDirectory) throws -> [String: Any] {
        let out = scratch.path("export-\(UUID().uuidString).json")
        let result = try Normd.run(["state", "export", path, "--format", "json", "--output", out])
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
    }

    /// A changed `checkpoint.path`: a generation holding the statistics as they are is in the new
    /// directory when `POST /reload` answers; the following ones (the final one too) go there, none
    /// to the old directory.
    @Test func aReloadChangingCheckpointPathWritesAGenerationThereAtOnce() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.url.path
        let daemon = try DaemonProcess.started(config: Self.config([Self.pipeline("a", in: dir)], checkpoint: true), scratch: scratch)
        let admin = try AdminHTTP(daemon)
        _ = try TensorClient.exchange(input: "ipc://\(dir)/a-in", output: "ipc://\(dir)/a-out", indices: 0..<2, rows: 8, features: Self.features)
        let oldGenerations = Self.generations(scratch.path("state"))

        let answer = try Self.reload(daemon, to: Self.config([Self.pipeline("a", in: dir)], checkpoint: true, path: "state2"), admin)
        #expect(answer.status == 200)
        #expect(answer.body == #"{"result":"success","kept":[\#(Self.kept("a"))],"reset":[],"added":[],"removed":[]}"#)
        let moved = Self.generations(scratch.path("state2"))
        // At least the one the reload waited for (the reload's own record updates may add more).
        #expect(!moved.isEmpty, "a generation in the new directory at once")
        let first = try Self.exported(scratch.path("state2/\(try #require(moved.last))"), in: scratch)
        #expect(first["a/0_min_max/n_samples_seen"] as? Int == 16)

        _ = try TensorClient.exchange(input: "ipc://\(dir)/a-in", output: "ipc://\(dir)/a-out", indices: 2..<3, rows: 8, features: Self.features)
        #expect(try daemon.terminate() == 0)
        #expect(Self.generations(scratch.path("state")) == oldGenerations, "nothing more in the old directory")
        #expect(try Self.exported(scratch.path("state2"), in: scratch)["a/0_min_max/n_samples_seen"] as? Int == 24)
    }
}
