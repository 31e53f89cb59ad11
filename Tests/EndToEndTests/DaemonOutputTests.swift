import Foundation
import NormTesting
import Testing

/// Output sockets other than PUSH.
@Suite struct DaemonOutputTests {
    @Test func aPubOutputSendsTopicHeaderAndPayloadFrames() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML(batch: "{size: 8, min_rows: 2, max_latency: 50ms}")
        pipeline.output = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pub, topic: norm.sensors}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(24, features: 4), to: "rows.npy", in: scratch)
        let messages = MessageSpec.tensors(sizes: [8, 8, 8], producer: "p")

        // Subscribed by prefix; probes go out until the subscription has reached the daemon's PUB.
        let consumer = try Consumer(
            endpoint: try daemon.outputEndpoint(of: "sensors"), socket: "sub", topic: "norm.",
            expectRows: 24, in: scratch)
        try Producer(
            endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile, messages: messages,
            probeReadyFile: consumer.readyFile
        ).run(in: scratch)
        let received = try consumer.messages()
        #expect(try daemon.terminate() == 0)

        #expect(!received.isEmpty && received.allSatisfy { $0.frames == 3 && $0.topic == "norm.sensors" })
        #expect(received.allSatisfy { $0.header?["pipeline"] as? String == "sensors" })
        #expect(try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(messages)) == Array(0..<24))
    }
}

/// XPUB output with `ZMQ_XPUB_NODROP`: when a subscriber stops reading, its full queue refuses
/// batches and normd counts each one instead of losing it silently (what plain PUB would do).
@Suite struct DaemonXPubDropTests {
    @Test func aSubscriberThatStopsReadingMakesEveryDropCounted() throws {
        let scratch = try ScratchDirectory()
        // 256 × 64 Float32 = 64 KiB per batch; queues of one batch on both sides and a Unix socket
        // (its kernel buffers hold a few hundred KiB), so a stalled reader is full after a few batches.
        var pipeline = PipelineYAML(features: 64, batch: "{size: 256, min_rows: 2, max_latency: 10s}")
        pipeline.output = "{endpoint: \"ipc://\(scratch.path("out.sock"))\", socket: xpub, high_water_mark: 1}"
        pipeline.stages = ["{type: batch_norm}"]
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let ready = scratch.path("subscribed")
        let stalled = try Subprocess(
            "stalled-subscriber", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "python3", "-c",
                """
                import sys, time, zmq
                sub = zmq.Context().socket(zmq.SUB)
                sub.setsockopt(zmq.RCVHWM, 1)
                sub.setsockopt(zmq.RCVBUF, 65536)
                sub.connect(sys.argv[1]); sub.subscribe(b"")
                time.sleep(0.5)                       # let the subscription reach the XPUB
                open(sys.argv[2], "w").close()
                time.sleep(60)                        # never read
                """, "ipc://\(scratch.path("out.sock"))", ready,
            ], in: scratch.url)
        _ = try waitFor("the subscriber to subscribe", timeout: .seconds(15)) { FileManager.default.fileExists(atPath: ready) ? true : nil }

        let batches = 60
        let producer = try Subprocess(
            "producer", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "python3", "-c",
                """
                import sys, numpy as np, zmq
                push = zmq.Context().socket(zmq.PUSH); push.connect(sys.argv[1])
                rows = np.random.default_rng(0).normal(size=(256, 64)).astype(np.float32)
                for _ in range(int(sys.argv[2])):
                    push.send_json({"dtype": "<f4", "shape": rows.shape}, zmq.SNDMORE); push.send(rows)
                """, try daemon.inputEndpoint(of: "sensors"), "\(batches)",
            ], in: scratch.url)
        #expect(try producer.waitForExit(timeout: .seconds(60)) == 0, "\(producer.stderr)")
        let counts = try daemon.waitForCounts(of: "sensors", timeout: .seconds(60), "every batch sent or dropped") {
            ($0.int("batches") ?? 0) + ($0.int("batches_dropped") ?? 0) == batches
        }
        #expect((counts.int("batches_dropped") ?? 0) > 0, "a stalled subscriber must cause counted drops: \(counts)")
        #expect(daemon.stderr.contains("msg=\"batch dropped: the subscribers' queues are full (xpub no-drop)\""))
        stalled.stop()
        #expect(try daemon.terminate() == 0)
    }
}
