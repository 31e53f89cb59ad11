import Foundation
import NormCore
import NormTesting
import Pipeline
import StageKit
import Testing
import WireFormat
import ZeroMQ

/// `chain_thread: true` in the built daemon: the stages run on a second thread, and a consumer
/// cannot tell — every message is byte for byte what the encoder gives for `normd apply`'s rows.
@Suite struct ChainThreadDaemonTests {
    /// 40 batches of 32 rows × 64 features, each from 4 messages of 8 rows, through min_max →
    /// batch_norm → batch_renorm in train mode: every batch's statistics depend on the previous
    /// ones, so a batch run out of order, twice, or on a half-updated chain shows in the bytes.
    @Test func everyBatchIsWhatApplyGivesInOrder() throws {
        let scratch = try ScratchDirectory()
        let (features, batchSize, batches, rowsPerMessage) = (64, 32, 40, 8)
        var pipeline = PipelineYAML(features: features, batch: "{size: \(batchSize), min_rows: 2, max_latency: 10s}")
        pipeline.stages = [
            "{type: min_max, feature_range: [0, 1]}", "{type: batch_norm, momentum: 0.9, epsilon: 0.001}",
            "{type: batch_renorm, momentum: 0.9, epsilon: 0.001}",
        ]
        pipeline.extra = ["chain_thread: true"]
        let output = "ipc://\(scratch.path("out.sock"))"
        pipeline.output = "{endpoint: \"\(output)\", socket: push, bind: true, codec: tensor, high_water_mark: 1000}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rows = TestRows.make(batchSize * batches, features: features, salt: 5)
        let rowsFile = try TestRows.write(rows, to: "rows.npy", in: scratch)

        let context = try ZMQContext()
        let consumer = try ZMQSocket(context: context, type: .pull)
        try consumer.setLinger(milliseconds: 0)
        try consumer.setReceiveTimeout(milliseconds: 10_000)
        try consumer.connect(output)
        let producer = try ZMQSocket(context: context, type: .push)
        try producer.setLinger(milliseconds: 5000)
        try producer.connect(try daemon.inputEndpoint(of: "sensors"))
        let messages = batchSize * batches / rowsPerMessage
        for seq in 0..<messages {
            let header = #"{"dtype":"<f4","shape":[\#(rowsPerMessage),\#(features)],"seq":\#(seq),"producer":"p"}"#
            #expect(try producer.send(header, more: true))
            let values = rows[(seq * rowsPerMessage)..<((seq + 1) * rowsPerMessage)].flatMap { $0 }
            #expect(try values.withUnsafeBytes { try producer.send(Array($0), more: false) })
        }

        // The stages do run on their own thread, beside the pipeline's (the OS names each).
        let names = try Self.threadNames(of: daemon)
        #expect(names.filter { $0 == "chain-sensors" }.count == 1 && names.filter { $0 == "normd-sensors" }.count == 1, "\(names)")
        #expect(names.filter { $0 == "normd-zap" }.count == 1, "the guard of the bound input: \(names)")

        let normalized = try ApplyReference.normalize(rowsFile: rowsFile, config: daemon.configPath, batchSize: batchSize, in: scratch)
        var encoder = BatchEncoder(codec: .tensor)
        var parts = ZMQMultipart()
        let perBatch = batchSize / rowsPerMessage
        for index in 0..<batches {
            try #require(try consumer.receiveMultipart(into: &parts), "batch \(index) never arrived")
            let batch = FeatureBatch(rowsOf: Array(normalized[(index * batchSize)..<((index + 1) * batchSize)]), features: features)
            let origins = (0..<perBatch).map { part in
                RowOrigin(
                    input: 0, producer: "p", seq: UInt64(index * perBatch + part),
                    rows: (part * rowsPerMessage)..<((part + 1) * rowsPerMessage), messageRows: 0..<rowsPerMessage)
            }
            let info = PublishedBatch(
                pipeline: "sensors", sequence: UInt64(index), outcome: ChainOutcome(mode: .train),
                stageKinds: ["min_max", "batch_norm", "batch_renorm"], statsVersion: UInt64(index + 1), origins: origins)
            let expected = encoder.encode(batch, info) { frames in frames.map { Array($0) } }
            let received = parts.map(\.bytes)
            #expect(received.count == expected.count, "batch \(index): frames")
            #expect(received.first.map { String(decoding: $0, as: UTF8.self) } == String(decoding: expected[0], as: UTF8.self))
            #expect(received.last == expected.last, "batch \(index): the payload differs from normd apply's rows")
        }
        #expect(try !consumer.receiveMultipart(into: &parts, flags: .dontWait), "no batch beyond the \(batches) sent")
        #expect(try daemon.terminate() == 0)
        var expected = PipelineCounts()
        (expected.messagesAccepted, expected.rowsAccepted) = (messages, batchSize * batches)
        (expected.batchesPublished, expected.rowsPublished) = (batches, batchSize * batches)
        expected.outputAtShutdown = .drained
        #expect(try daemon.finalCounts(of: "sensors").text == expected.summary)
        producer.close()
        consumer.close()
        context.terminate()
    }

    /// `io_threads: 2` beside `chain_thread: true`: libzmq runs two I/O threads for the pipeline, the
    /// input's connections on one and the output's on the other (`ZMQ_AFFINITY`), so each does part
    /// of the socket work (without the affinity libzmq may put both on one thread, and measured
    /// did so in one run of four); every row still comes out, exactly counted.
    @Test func ioThreadsTwoSplitsTheInputAndTheOutputAcrossTwoIOThreads() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML(features: 256, batch: "{size: 256, min_rows: 2, max_latency: 10s}")
        pipeline.stages = ["{type: min_max, feature_range: [0, 1]}"]
        pipeline.extra = ["chain_thread: true", "io_threads: 2"]
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let (messages, rows) = (2000, 64)
        // 2 000 messages of 64 KiB in, 500 batches of 256 KiB out: ~125 MiB each way, tens of
        // clock ticks of each I/O thread's CPU.
        let received = try PythonScript.run(
            """
            import zmq, threading
            c = zmq.Context()
            out = c.socket(zmq.PULL); out.setsockopt(zmq.RCVTIMEO, 10000); out.connect('\(try daemon.outputEndpoint(of: "sensors"))')
            got = [0]
            def read():
                try:
                    while got[0] < \(messages * rows / 256):
                        out.recv_multipart(); got[0] += 1
                except zmq.Again:
                    pass
            reader = threading.Thread(target=read); reader.start()
            p = c.socket(zmq.PUSH); p.setsockopt(zmq.LINGER, 5000); p.connect('\(try daemon.inputEndpoint(of: "sensors"))')
            block = np.ones((\(rows), 256), '<f4')
            for i in range(\(messages)):
                p.send_json({'dtype': '<f4', 'shape': [\(rows), 256], 'seq': i, 'producer': 'p'}, zmq.SNDMORE); p.send(block)
            reader.join(); p.close(); out.close()
            print(got[0])
            """)
        #expect(received == "\(messages * rows / 256)\n")
        let tasks = "/proc/\(daemon.processIdentifier)/task"
        var ioTicks: [String: Int] = [:]
        for task in try FileManager.default.contentsOfDirectory(atPath: tasks) {
            let name = try String(contentsOfFile: "\(tasks)/\(task)/comm", encoding: .utf8).dropLast()
            guard name.hasPrefix("ZMQbg/IO/") else { continue }
            // utime and stime: fields 14 and 15 of /proc/TID/stat, 12 and 13 after the ") ".
            let stat = try String(contentsOfFile: "\(tasks)/\(task)/stat", encoding: .utf8)
            let fields = stat[stat.range(of: ") ", options: .backwards)!.upperBound...].split(separator: " ")
            ioTicks[String(name)] = Int(fields[11])! + Int(fields[12])!
        }
        #expect(ioTicks.keys.sorted() == ["ZMQbg/IO/0", "ZMQbg/IO/1"], "\(ioTicks)")
        #expect(ioTicks.values.allSatisfy { $0 >= 2 }, "each I/O thread did part of the socket work: \(ioTicks)")
        #expect(try daemon.terminate() == 0)
        var expected = PipelineCounts()
        (expected.messagesAccepted, expected.rowsAccepted) = (messages, messages * rows)
        (expected.batchesPublished, expected.rowsPublished) = (messages * rows / 256, messages * rows)
        expected.outputAtShutdown = .drained
        #expect(try daemon.finalCounts(of: "sensors").text == expected.summary)
    }

    /// A reload that sets `io_threads: 2` re-binds the pipeline (its context is made with its loop),
    /// and `chain_thread: true` in the same reload takes effect in the new loop: the 3 waiting rows
    /// are flushed as a partial batch by the re-bind, the next 8 make two batches through the chain
    /// thread, and the counts carry on across the re-bind.
    @Test func aReloadToTwoIOThreadsRebindsAndTheChainThreadStarts() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.url.path
        let plain = ReloadMetricsTests.pipeline("a", inputs: 1, in: dir)
        let daemon = try DaemonProcess.started(config: ReloadMetricsTests.config([plain]), scratch: scratch)
        let admin = try AdminHTTP(daemon)
        try ReloadPipelinesTests.send(rows: 3, index: 0, to: "ipc://\(dir)/a-in0")
        try daemon.waitForCounts(of: "a", "3 rows accepted") { $0["rows_accepted"] == "3" }
        #expect(try Self.threadNames(of: daemon).filter { $0.hasPrefix("ZMQbg/IO/") || $0.hasPrefix("chain-") } == ["ZMQbg/IO/0"])

        let threaded = ReloadMetricsTests.config([plain + "\n    io_threads: 2\n    chain_thread: true"])
        let answer = try ReloadPipelinesTests.reload(daemon, to: threaded, admin)
        #expect(answer.status == 200, "\(answer.body)")
        #expect(daemon.logLines.contains { $0.message == "reload: pipeline re-bound" && $0["changed"] == "io_threads" }, "\(daemon.stderr)")
        try ReloadPipelinesTests.send(rows: 8, index: 1, to: "ipc://\(dir)/a-in0")
        try daemon.waitForCounts(of: "a", "11 rows published") { $0["rows_published"] == "11" }
        #expect(
            try Self.threadNames(of: daemon).filter { $0.hasPrefix("ZMQbg/IO/") || $0.hasPrefix("chain-") }.sorted()
                == ["ZMQbg/IO/0", "ZMQbg/IO/1", "chain-a"])
        #expect(try daemon.terminate() == 0)
        var expected = PipelineCounts()
        (expected.messagesAccepted, expected.rowsAccepted) = (2, 11)
        (expected.batchesPublished, expected.rowsPublished, expected.partialBatches) = (3, 11, 1)
        expected.outputAtShutdown = .drained
        #expect(try daemon.finalCounts(of: "a").text == expected.summary)
    }

    /// The OS names of the daemon's threads (`/proc/PID/task/TID/comm`).
    static func threadNames(of daemon: DaemonProcess) throws -> [String] {
        let tasks = "/proc/\(daemon.processIdentifier)/task"
        return try FileManager.default.contentsOfDirectory(atPath: tasks).map {
            String(try String(contentsOfFile: "\(tasks)/\($0)/comm", encoding: .utf8).dropLast())
        }
    }
}
