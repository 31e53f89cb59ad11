import Foundation
import NormTesting
import Testing

/// What a peer sends cannot trap the daemon, grow its memory without bound, or forge log lines:
/// real pyzmq peers against the built `normd run`.
@Suite struct HostilePeerTests {
    /// A pipeline on loopback whose output is a PUB (so nothing blocks when no trainer listens).
    static func pipeline(extra: [String] = [], input: String? = nil) -> PipelineYAML {
        var pipeline = PipelineYAML(extra: extra)
        if let input { pipeline.inputs = [input] }
        pipeline.output = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pub, bind: true, codec: tensor}"
        return pipeline
    }

    /// A Python expression for a tensor header frame of one row of 4 features.
    static func header(seq: String? = nil, producer: String? = nil, dtype: String = "'<f4'") -> String {
        var fields = ["'dtype': \(dtype)", "'shape': [1, 4]"]
        if let seq { fields.append("'seq': \(seq)") }
        if let producer { fields.append("'producer': \(producer)") }
        return "json.dumps({\(fields.joined(separator: ", "))}).encode()"
    }

    /// Sends one tensor message per header (each with one row of 4 features) from a pyzmq PUSH and
    /// waits until every message has left the socket.
    static func send(headers: [String], to endpoint: String) throws {
        _ = try PythonScript.run(
            """
            import zmq
            c = zmq.Context()
            s = c.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, 20000); s.connect("\(endpoint)")
            row = np.arange(4, dtype='<f4').reshape(1, 4)
            for h in [\(headers.joined(separator: ", "))]:
                s.send(h, zmq.SNDMORE); s.send(row)
            s.close(); c.term()
            """)
    }

    /// Log lines without the `ts=…` field, as written.
    static func lines(_ daemon: DaemonProcess) -> [String] {
        daemon.stderr.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("ts=") ? String(line.drop { $0 != " " }.dropFirst()) : String(line)
        }
    }

    @Test func sequenceNumbersJumpingToTheTopSaturateTheMissedCount() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(Self.pipeline()), scratch: scratch)
        let top = "2**64 - 1"
        try Self.send(
            headers: [
                Self.header(seq: "0", producer: "'a'"), Self.header(seq: top, producer: "'a'"),
                Self.header(seq: "0", producer: "'b'"), Self.header(seq: top, producer: "'b'"),
            ],
            to: try daemon.inputEndpoint(of: "sensors"))
        try daemon.waitForCounts(of: "sensors", "messages_accepted=4") { $0.int("messages_accepted") == 4 }
        #expect(daemon.isRunning)
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        // Each gap misses 2^64 − 2 messages; the sum saturates at Int.max instead of trapping.
        #expect(
            counts["seq_gaps"] == "2" && counts["messages_missed"] == "9223372036854775807" && counts["seq_restarts"] == "0",
            "\(counts)")
    }

    @Test func producerTrackingIsCappedAndEvictsTheLeastRecentlySeen() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(Self.pipeline(extra: ["max_producers: 4"])), scratch: scratch)
        // a b c d fill the table; a is seen again, so e evicts b (least recently seen), not a.
        // a's jump 1 → 3 is then still a gap; b returns as a new producer and evicts c.
        let order: [(String, Int)] = [("a", 0), ("b", 0), ("c", 0), ("d", 0), ("a", 1), ("e", 0), ("a", 3), ("b", 5)]
        try Self.send(
            headers: order.map { Self.header(seq: "\($0.1)", producer: "'\($0.0)'") },
            to: try daemon.inputEndpoint(of: "sensors"))
        try daemon.waitForCounts(of: "sensors", "messages_accepted=8") { $0.int("messages_accepted") == 8 }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(
            counts["producers_evicted"] == "2" && counts["seq_gaps"] == "1" && counts["messages_missed"] == "1"
                && counts["seq_restarts"] == "0", "\(counts)")
    }

    @Test func manyProducerNamesAreEvictedBeyondTheCap() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(Self.pipeline(extra: ["max_producers: 100"])), scratch: scratch)
        let endpoint = try daemon.inputEndpoint(of: "sensors")
        // 30 000 distinct 250-byte names: 7.5 MB of names if all were kept; 100 are.
        _ = try PythonScript.run(
            """
            import zmq
            c = zmq.Context()
            s = c.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, 60000); s.connect("\(endpoint)")
            row = np.arange(4, dtype='<f4').reshape(1, 4).tobytes()
            for i in range(30000):
                s.send(json.dumps({'dtype': '<f4', 'shape': [1, 4], 'seq': 0, 'producer': '%0250d' % i}).encode(), zmq.SNDMORE)
                s.send(row)
            s.close(); c.term()
            """)
        try daemon.waitForCounts(of: "sensors", timeout: .seconds(240), "messages_accepted=30000") {
            $0.int("messages_accepted") == 30_000
        }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts["producers_evicted"] == "29900", "\(counts)")
    }

    @Test func overLongProducerNamesAreRejectedAndTruncatedInTheLog() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(Self.pipeline()), scratch: scratch)
        let input = try daemon.inputEndpoint(of: "sensors")
        try Self.send(
            headers: [
                Self.header(seq: "0", producer: "'p' * 256"), Self.header(seq: "0", producer: "'q' * 257"),
                Self.header(seq: "0", producer: "'r' * 10_000_000"),
            ], to: input)
        try daemon.waitForCounts(of: "sensors", "3 messages") { $0.int("messages_accepted") == 1 && $0["messages_rejected"] != "0" }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts["messages_rejected"] == "{producer_too_long: 2}" && counts["messages_accepted"] == "1", "\(counts)")
        let rejected = Self.lines(daemon).filter { $0.contains("message rejected") }
        let tail = "endpoint=\(input) input=0 pipeline=sensors reason=producer_too_long"
        #expect(
            rejected == [
                "level=warning msg=\"message rejected: producer name is 257 bytes, longer than the limit of 256: \\\"\(String(repeating: "q", count: 128))…(257 bytes)\\\"\" \(tail)",
                "level=warning msg=\"message rejected: producer name is 10000000 bytes, longer than the limit of 256: \\\"\(String(repeating: "r", count: 128))…(10000000 bytes)\\\"\" \(tail)",
            ])
    }

    @Test func aHugeDTypeIsExcerptedAndControlCharactersCannotForgeALine() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(Self.pipeline()), scratch: scratch)
        let input = try daemon.inputEndpoint(of: "sensors")
        try Self.send(
            headers: [
                Self.header(dtype: "'x' * 15_000_000"),
                Self.header(dtype: "'<f4\\r\\x00ts=2026-01-01T00:00:00.000Z level=error msg=forged\\n\\x7f\\x1b'"),
            ], to: input)
        try daemon.waitForCounts(of: "sensors", "2 rejections") { $0["messages_rejected"] == "{dtype: 2}" }
        #expect(try daemon.terminate() == 0)
        let rejected = Self.lines(daemon).filter { $0.contains("message rejected") }
        let tail = "endpoint=\(input) input=0 pipeline=sensors reason=dtype"
        let advice = #"is not supported; send float32 (\"<f4\") or float64 (\"<f8\")""#
        #expect(
            rejected == [
                "level=warning msg=\"message rejected: dtype \\\"\(String(repeating: "x", count: 128))…(15000000 bytes)\\\" \(advice) \(tail)",
                // The dtype as sent (JSON escapes unresolved), each backslash escaped by logfmt.
                #"level=warning msg="message rejected: dtype \"<f4\\r\\u0000ts=2026-01-01T00:00:00.000Z level=error msg=forged\\n\\u007f\\u001b\" "#
                    + "\(advice) \(tail)",
            ])
        #expect(!daemon.stderr.contains("\r") && !daemon.stderr.contains("\u{0}") && !daemon.stderr.contains("\n level=error"))
    }

    @Test func controlCharactersInAnEndpointAreEscapedInTheLog() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.path("in\r\u{1b}\t.sock")
        let daemon = try DaemonProcess.started(
            config: PipelineYAML.config(
                Self.pipeline(
                    input:
                        "{endpoint: \"ipc://\(path.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\u{1b}", with: "\\e").replacingOccurrences(of: "\t", with: "\\t"))\", socket: pull}"
                )),
            scratch: scratch)
        let bound = Self.lines(daemon).filter { $0.contains("msg=\"input bound\"") }
        let escaped = scratch.path("in\\r\\x1b\\t.sock")
        #expect(bound == ["level=info msg=\"input bound\" codec=tensor endpoint=\"ipc://\(escaped)\" input=0 pipeline=sensors socket=pull"])
        #expect(try daemon.terminate() == 0)
    }
}

/// What libzmq may buffer for an input is bounded: frames above `max_message_bytes` are refused
/// before they are buffered, and at most `max_connections` peers are admitted.
@Suite struct ConnectionBoundTests {
    /// Python helpers shared by the peers below: a PUSH whose handshake outcome is read from its
    /// own monitor (`HANDSHAKE_SUCCEEDED` = 4096, `HANDSHAKE_FAILED_AUTH` = 16384).
    static let peerHelpers = """
        import zmq, socket, os, time
        from zmq.utils.monitor import recv_monitor_message
        c = zmq.Context()
        row = np.arange(4, dtype='<f4').reshape(1, 4)
        def header(rows=1):
            return json.dumps({'dtype': '<f4', 'shape': [rows, 4]}).encode()
        def peer(endpoint, events=zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH):
            s = c.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, 5000); s.setsockopt(zmq.RECONNECT_IVL, 60000)
            m = s.get_monitor_socket(events)
            s.connect(endpoint)
            assert m.poll(10000), 'no monitor event'
            event = recv_monitor_message(m)
            m.close()
            return s, event
        """

    @Test func connectionsBeyondMaxConnectionsAreRefusedUntilOneCloses() throws {
        let scratch = try ScratchDirectory()
        let input = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pull, max_connections: 2}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(HostilePeerTests.pipeline(input: input)), scratch: scratch)
        let endpoint = try daemon.inputEndpoint(of: "sensors")
        let output = try PythonScript.run(
            Self.peerHelpers + "\n" + """
                ep = "\(endpoint)"
                a, ea = peer(ep); b, eb = peer(ep); x, ex = peer(ep)
                x.close(0)
                for s in (a, b):
                    s.send(header(), zmq.SNDMORE); s.send(row)
                a.close()  # its place is given back once the daemon sees the disconnect
                refusals, events = 0, []
                while True:
                    d, ed = peer(ep)
                    if ed['event'] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                        break
                    refusals += 1
                    d.close(0)
                    time.sleep(0.1)
                d.send(header(), zmq.SNDMORE); d.send(row)
                b.close(); d.close(); c.term()
                print(json.dumps({'a': int(ea['event']), 'b': int(eb['event']), 'x': int(ex['event']), 'x_status': int(ex['value']),
                                  'd_refusals': refusals}))
                """)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Int], "\(output)")
        #expect(result["a"] == 4096 && result["b"] == 4096 && result["x"] == 16384 && result["x_status"] == 400, "\(result)")
        let refusals = try #require(result["d_refusals"])
        try daemon.waitForCounts(of: "sensors", "messages_accepted=3") { $0.int("messages_accepted") == 3 }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts.int("connections_refused") == 1 + refusals && counts.int("connections_dropped") == 0, "\(counts)")
        let refused = HostilePeerTests.lines(daemon).filter { $0.contains("connection refused") }
        #expect(
            refused.count == 1 + refusals
                && refused.allSatisfy {
                    $0.hasPrefix("level=warning msg=\"connection refused: input has its max_connections (2) connections\" input=0 peer=127.0.0.1:")
                        && $0.hasSuffix(" pipeline=sensors status=400")
                }, "\(refused)")
    }

    @Test func aFrameAboveMaxMessageBytesDropsTheConnectionBeforeItIsBuffered() throws {
        let scratch = try ScratchDirectory()
        // The bound: max_connections × high_water_mark × max_message_bytes = 2 × 4 × 1 MiB = 8 MiB.
        let input = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pull, max_connections: 2, high_water_mark: 4, max_message_bytes: 1048576}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(HostilePeerTests.pipeline(input: input)), scratch: scratch)
        let endpoint = try daemon.inputEndpoint(of: "sensors")
        let baseline = try daemon.memoryKiB("VmRSS")
        // One 100 MB frame; before maxmsgsize defaulted to max_message_bytes libzmq buffered it whole.
        let port = try PythonScript.run(
            Self.peerHelpers + "\n" + """
                s, event = peer("\(endpoint)", zmq.EVENT_CONNECTED)
                port = socket.socket(fileno=os.dup(event['value'])).getsockname()[1]
                big = np.zeros((100 * 1024 * 1024 // 16, 4), '<f4')
                s.send(header(big.shape[0]), zmq.SNDMORE); s.send(big)
                s.close(); c.term()
                print(port)
                """
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        // Waited for (not required) first, so the memory bound is checked even when no drop came.
        let dropped = try? daemon.waitForLine("the dropped connection") { $0.message?.hasPrefix("connection dropped") == true }
        let peak = try daemon.memoryKiB("VmHWM")
        // Ceiling: the baseline, the 8 MiB bound and 24 MiB for libzmq's and the allocator's buffers.
        #expect(peak < baseline + 8 * 1024 + 24 * 1024, "peak RSS \(peak) KiB, baseline \(baseline) KiB")
        let line = try #require(dropped, "no 'connection dropped' line:\n\(daemon.stderr)")
        #expect(
            line.text.drop { $0 != " " }.dropFirst()
                == "level=warning msg=\"connection dropped: a frame above maxmsgsize, or no heartbeat from the peer\" input=0 peer=127.0.0.1:\(port) pipeline=sensors"
        )
        // The daemon goes on: a good message from a new connection is accepted.
        _ = try PythonScript.run(
            Self.peerHelpers + "\n" + """
                s, event = peer("\(endpoint)")
                s.send(header(), zmq.SNDMORE); s.send(row)
                s.close(); c.term()
                """)
        try daemon.waitForCounts(of: "sensors", "messages_accepted=1") { $0.int("messages_accepted") == 1 }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(
            counts.int("connections_dropped") == 1 && counts.int("connections_refused") == 0 && counts["messages_rejected"] == "0",
            "\(counts)")
    }
}

/// The new limits are themselves bounded, with located messages.
@Suite struct ConnectionLimitValidationTests {
    @Test func maxConnectionsAndMaxProducersAreBounded() throws {
        let scratch = try ScratchDirectory()
        var pipeline = HostilePeerTests.pipeline(
            extra: ["max_producers: 0"],
            input: "{endpoint: \"tcp://127.0.0.1:*\", max_connections: 10001}")
        pipeline.name = "p"
        _ = try scratch.write(PipelineYAML.config(pipeline), to: "limits.yaml")
        let result = try Normd.run(["validate", "--config", "limits.yaml"], in: scratch.url)
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "limits.yaml:7:58: pipelines[0].inputs[0].max_connections: must be an integer from 1 to 10000, got 10001",
                "limits.yaml:9:20: pipelines[0].max_producers: must be an integer from 1 to 1000000, got 0",
                "limits.yaml: 2 errors",
            ])
    }
}
