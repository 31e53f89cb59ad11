import Foundation
import NormTesting
import Testing

/// When partial batches go out: after `max_latency` while running, and at SIGTERM.
@Suite(.serialized) struct DaemonBatchingTests {
    @Test func aPartialBatchIsFlushedAfterMaxLatencyWithoutShutdown() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(
            config: PipelineYAML.config(PipelineYAML(batch: "{size: 64, min_rows: 2, max_latency: 100ms}")), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(5, features: 4), to: "rows.npy", in: scratch)

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 5, timeout: 10, in: scratch)
        let sent = try Producer(
            endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile,
            messages: [MessageSpec(rows: 0..<5, seq: 0, producer: "p")]
        ).run(in: scratch)
        let received = try consumer.messages()

        let batch = try #require(received.first)
        #expect(received.count == 1 && batch.rows == 5 && batch.mode == "train")
        let latency = batch.receivedAt - sent.sentAt
        #expect(latency >= 0.05 && latency < 2, "partial batch arrived \(latency) s after the rows were sent (max_latency 100ms)")
        #expect(daemon.isRunning)
        #expect(try daemon.terminate() == 0)
        #expect(try daemon.finalCounts(of: "sensors").int("partial_batches") == 1)
    }

    @Test func sigtermPublishesTheWaitingPartialBatchInInferModeBelowMinRows() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(
            config: PipelineYAML.config(PipelineYAML(batch: "{size: 16, min_rows: 4, max_latency: 10s}")), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(3, features: 4), to: "rows.npy", in: scratch)

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 3, in: scratch)
        try Producer(
            endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile,
            messages: [MessageSpec(rows: 0..<3, seq: 0, producer: "p")]
        ).run(in: scratch)
        try daemon.waitForCounts(of: "sensors", "rows_accepted=3") { $0.int("rows_accepted") == 3 }
        #expect(try daemon.terminate() == 0)
        let received = try consumer.messages()

        let batch = try #require(received.first)
        #expect(received.count == 1 && batch.rows == 3)
        #expect(batch.mode == "infer")
        #expect(batch.header?["downgraded"] as? String == "3 rows is below batch.min_rows (4)")
        let messages = daemon.logLines.compactMap(\.message)
        #expect(messages.contains("pipeline stopped"))
        #expect(messages.last == "normd stopped")
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts.int("downgraded") == 1 && counts.int("partial_batches") == 1 && counts.int("batches") == 1)
    }
}
