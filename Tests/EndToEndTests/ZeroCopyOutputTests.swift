import Foundation
import NormCore
import NormTesting
import Pipeline
import StageKit
import Testing
import WireFormat
import ZeroMQ

/// The tensor payload goes out without a copy (lent to libzmq from a bounded pool of buffers, or
/// copied when every buffer is lent): what a consumer reads must not change either way.
@Suite struct ZeroCopyOutputTests {
    /// 24 batches of 2 MiB over `ipc://` to a PUSH consumer that does not read until all are
    /// published: the consumer's queue holds one and the kernel's socket buffers a few hundred KiB,
    /// so at least 22 wait in libzmq's queue (`high_water_mark: 1000`) — more than the payload
    /// buffers the output may lend (32 MiB / 2 MiB = 16, Docs/LIMITS.md): the first ones lent, the
    /// rest copied. Read afterwards: every batch, in order, and each message byte for byte what the
    /// copying encoder gives for `normd apply`'s result on the same rows.
    @Test func aStoppedPushConsumerGetsEveryBatchInOrderAndWhole() throws {
        let scratch = try ScratchDirectory()
        let (features, batchSize, batches) = (256, 2048, 24)
        var pipeline = PipelineYAML(features: features, batch: "{size: \(batchSize), min_rows: 2, max_latency: 10s}")
        let output = "ipc://\(scratch.path("out.sock"))"
        pipeline.output = "{endpoint: \"\(output)\", socket: push, bind: true, codec: tensor, high_water_mark: 1000}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rows = TestRows.make(batchSize * batches, features: features)
        let rowsFile = try TestRows.write(rows, to: "rows.npy", in: scratch)

        let context = try ZMQContext()
        let consumer = try ZMQSocket(context: context, type: .pull)
        try consumer.setLinger(milliseconds: 0)
        try consumer.setReceiveHighWaterMark(1)
        try consumer.setReceiveTimeout(milliseconds: 10_000)
        try consumer.connect(output)
        let producer = try ZMQSocket(context: context, type: .push)
        try producer.setLinger(milliseconds: 5000)
        try producer.connect(try daemon.inputEndpoint(of: "sensors"))
        for seq in 0..<batches {
            let header = #"{"dtype":"<f4","shape":[\#(batchSize),\#(features)],"seq":\#(seq),"producer":"p"}"#
            #expect(try producer.send(header, more: true))
            let values = rows[(seq * batchSize)..<((seq + 1) * batchSize)].flatMap { $0 }
            #expect(try values.withUnsafeBytes { try producer.send(Array($0), more: false) })
        }
        // Published = taken into libzmq's queue, while the consumer has read nothing.
        try daemon.waitForCounts(of: "sensors", timeout: .seconds(30), "batches=\(batches)") { $0.int("batches") == batches }

        let normalized = try ApplyReference.normalize(rowsFile: rowsFile, config: daemon.configPath, batchSize: batchSize, in: scratch)
        var encoder = BatchEncoder(codec: .tensor)
        var parts = ZMQMultipart()
        for index in 0..<batches {
            try #require(try consumer.receiveMultipart(into: &parts), "batch \(index) never arrived")
            let batch = FeatureBatch(rowsOf: Array(normalized[(index * batchSize)..<((index + 1) * batchSize)]), features: features)
            let info = PublishedBatch(
                pipeline: "sensors", sequence: UInt64(index), outcome: ChainOutcome(mode: .train),
                stageKinds: ["min_max", "batch_norm"], statsVersion: UInt64(index + 1),
                origins: [RowOrigin(input: 0, producer: "p", seq: UInt64(index), rows: 0..<batchSize, messageRows: 0..<batchSize)])
            let expected = encoder.encode(batch, info) { frames in frames.map { Array($0) } }
            let received = parts.map(\.bytes)
            // Frame by frame, so a failure names the frame instead of printing 2 MiB of bytes.
            #expect(received.count == expected.count, "batch \(index): frames")
            #expect(received.first.map { String(decoding: $0, as: UTF8.self) } == String(decoding: expected[0], as: UTF8.self))
            let payloadEqual = received.last == expected.last
            #expect(payloadEqual, "batch \(index): the payload differs from normd apply's rows")
        }
        #expect(try !consumer.receiveMultipart(into: &parts, flags: .dontWait), "no batch beyond the \(batches) sent")
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts.int("batches") == batches && (counts.int("batches_dropped") ?? 0) == 0, "\(counts)")
        producer.close()
        consumer.close()
        context.terminate()
    }
}
