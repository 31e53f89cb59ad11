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

        // The stages do run on their own thread, beside the pipeline's (the OS names both; threads the
        // pipeline's thread starts inherit its name).
        let tasks = "/proc/\(daemon.processIdentifier)/task"
        let names = try FileManager.default.contentsOfDirectory(atPath: tasks).map {
            try String(contentsOfFile: "\(tasks)/\($0)/comm", encoding: .utf8)
        }
        #expect(names.filter { $0 == "chain-sensors\n" }.count == 1 && names.contains("normd-sensors\n"), "\(names)")

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
}
