import Foundation
import NormTesting
import Testing

/// A peer that closes its socket while its kernel still holds data for normd (or normd for it)
/// loses nothing, whatever normd's ZeroMQ sockets do meanwhile.
///
/// The failure these reproduce: Linux answers any segment that *carries data* and reaches a socket
/// its process has closed with a reset (RFC 1122 §4.2.2.13; `TcpExtTCPAbortOnData`), and the reset
/// discards what that socket had not yet delivered. A ZMTP heartbeat PING is such a segment. With
/// heartbeats on by default, a producer that sent its last messages and exited while normd was
/// behind lost everything still queued in its kernel (seen in the soak test: 2 000 messages per
/// producer, with no gap and no drop counted, because the tail of a stream has no successor).
@Suite struct PeerCloseTests {
    static let features = 16
    static let rowsPerMessage = 64
    static let messages = 256

    /// A PUSH producer that sends `messages` messages of 64 × 16 and exits as soon as libzmq has
    /// handed them all to the kernel (linger -1, the documented way to lose nothing on exit). A
    /// 1 MiB send buffer makes the kernel hold most of them while normd is not reading.
    static func produceAndExit(to endpoint: String) throws {
        _ = try PythonScript.run(
            """
            import zmq
            c = zmq.Context()
            s = c.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, -1); s.setsockopt(zmq.SNDBUF, 1 << 20)
            s.connect("\(endpoint)")
            rows = np.ones((\(rowsPerMessage), \(features)), dtype='<f4')
            for i in range(\(messages)):
                s.send(json.dumps({'dtype': '<f4', 'shape': [\(rowsPerMessage), \(features)], 'seq': i, 'producer': 'p'}).encode(), zmq.SNDMORE)
                s.send(rows)
            s.close(); c.term()
            """)
    }

    @Test func aProducerThatExitsWhileNormdIsBehindLosesNothing() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML()
        pipeline.features = Self.features
        pipeline.batch = "{size: 256, min_rows: 2, max_latency: 50ms}"
        // A small input queue, and a PUSH output nobody consumes yet: the pipeline blocks on its
        // first batch, intake stops, and the producer's kernel keeps the rest of its stream.
        pipeline.inputs = ["{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pull, bind: true, codec: tensor, high_water_mark: 10}"]
        pipeline.stages = ["{type: min_max}"]
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        try Self.produceAndExit(to: try daemon.inputEndpoint(of: "sensors"))
        // Longer than libzmq's heartbeat interval was by default (5 s): a PING, had one been sent
        // to the closed producer, would have reset its connection by now.
        Thread.sleep(forTimeInterval: 6)
        let total = Self.messages * Self.rowsPerMessage
        let consumer = try Consumer(
            endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: total, timeout: 15,
            in: scratch)
        let rows = try consumer.messages(allowTimeout: true).reduce(0) { $0 + $1.rows }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(
            counts.int("messages_accepted") == Self.messages && counts.int("rows_accepted") == total
                && counts.int("rows_published") == total && counts["seq_gaps"] == "0" && counts["connections_dropped"] == "0",
            "\(counts)")
        #expect(rows == total)
    }

    @Test func aConsumerThatIsBehindWhenNormdExitsGetsEveryBatchNormdCountedAsSent() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML()
        pipeline.features = Self.features
        pipeline.batch = "{size: 256, min_rows: 2, max_latency: 50ms}"
        pipeline.stages = ["{type: min_max}"]
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let go = scratch.path("go")
        // Connected from the start, but reads nothing until normd has exited: normd's last batches
        // wait in the kernel, behind a PING if normd sent heartbeats, whose PONG would then reach a
        // closed socket.
        let consumer = try Subprocess(
            "late-consumer", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "python3", "-c",
                """
                import json, os, time
                import zmq
                c = zmq.Context()
                s = c.socket(zmq.PULL); s.setsockopt(zmq.RCVHWM, 1); s.setsockopt(zmq.RCVBUF, 1 << 16)
                s.connect("\(try daemon.outputEndpoint(of: "sensors"))")
                deadline = time.time() + 300
                while not os.path.exists("\(go)"):
                    if time.time() > deadline: raise SystemExit("no go file after 300 s")
                    time.sleep(0.05)
                rows = 0
                s.setsockopt(zmq.RCVTIMEO, 5000)
                try:
                    while rows < \(2 * Self.messages * Self.rowsPerMessage):
                        rows += json.loads(s.recv_multipart()[0])["shape"][0]
                except zmq.Again:
                    pass
                print(rows)
                """,
            ], in: scratch.url)
        // Half the batches, then longer than the old default heartbeat interval (5 s) so that a PING
        // would follow them in the stream, then the other half behind it.
        let half = Self.messages * Self.rowsPerMessage, total = 2 * half
        try Self.produceAndExit(to: try daemon.inputEndpoint(of: "sensors"))
        try daemon.waitForCounts(of: "sensors", "rows_published=\(half)") { $0.int("rows_published") == half }
        Thread.sleep(forTimeInterval: 6)
        try Self.produceAndExit(to: try daemon.inputEndpoint(of: "sensors"))
        try daemon.waitForCounts(of: "sensors", "rows_published=\(total)") { $0.int("rows_published") == total }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts.int("rows_published") == total && counts["unsent_at_shutdown"] == "0", "\(counts)")
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        #expect(try consumer.waitForExit(timeout: .seconds(30)) == 0, "\(consumer.stderr)")
        #expect(consumer.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(total)")
    }
}
