import Foundation
import NormTesting
import Testing

/// The convenience codecs: `.npy` and JSON frames in, JSON and `.npy` batches out, all decoded by
/// NumPy and compared with `normd apply`.
@Suite struct DaemonCodecTests {
    @Test func npyFramesInJSONBatchesOut() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML(batch: "{size: 16, min_rows: 2, max_latency: 10s}")
        pipeline.inputs = ["{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pull, codec: npy}"]
        pipeline.output = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: push, codec: json}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(40, features: 4), to: "rows.npy", in: scratch)
        let messages = [
            MessageSpec(kind: "npy", rows: 0..<8), MessageSpec(kind: "npy", rows: 8..<20, dtype: "<f8"),
            MessageSpec(kind: "npy", rows: 20..<40),
        ]

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), codec: "json", expectRows: 40, in: scratch)
        try Producer(endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile, messages: messages).run(in: scratch)
        try daemon.waitForCounts(of: "sensors", "rows_accepted=40") { $0.int("rows_accepted") == 40 }
        #expect(try daemon.terminate() == 0)
        let received = try consumer.messages()

        #expect(received.allSatisfy { $0.frames == 1 && $0.header?["pipeline"] as? String == "sensors" })
        #expect(received.map(\.batch) == [0, 1, 2])
        // .npy frames carry no producer or seq: the sources say so with nulls.
        let firstSource = try #require(received.first?.sources.first)
        #expect(firstSource["producer"] is NSNull && firstSource["seq"] is NSNull)
        let expected = try ApplyReference.normalize(rowsFile: rowsFile, config: daemon.configPath, batchSize: 16, in: scratch)
        ApplyReference.expectEqual(received, expected, batchSizes: [16, 16, 8])
    }

    @Test func jsonArraysInNpyBatchesOut() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML(batch: "{size: 8, min_rows: 2, max_latency: 10s}")
        pipeline.inputs = ["{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pull, codec: json}"]
        pipeline.output = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: push, codec: npy}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(20, features: 4), to: "rows.npy", in: scratch)
        // `[[x, …], …]` messages; the single-row one is written by json.dumps as a nested list too.
        let messages = [
            MessageSpec(kind: "json", rows: 0..<1), MessageSpec(kind: "json", rows: 1..<13),
            MessageSpec(kind: "json", rows: 13..<20),
        ]

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), codec: "npy", expectRows: 20, in: scratch)
        try Producer(endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile, messages: messages).run(in: scratch)
        try daemon.waitForCounts(of: "sensors", "rows_accepted=20") { $0.int("rows_accepted") == 20 }
        #expect(try daemon.terminate() == 0)
        let received = try consumer.messages()

        #expect(received.allSatisfy { $0.frames == 1 && $0.header == nil })
        let expected = try ApplyReference.normalize(rowsFile: rowsFile, config: daemon.configPath, batchSize: 8, in: scratch)
        // JSON numbers are read as Double and rounded to Float32, exactly as the .npy of Float32 holds them.
        ApplyReference.expectEqual(received, expected, batchSizes: [8, 8, 4])
    }

    @Test func jsonObjectsWithATopicFrameOnSub() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML(batch: "{size: 16, min_rows: 2, max_latency: 50ms}")
        pipeline.inputs = ["{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: sub, bind: true, codec: json, topics: [\"rows\"]}"]
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(30, features: 4), to: "rows.npy", in: scratch)
        var messages = MessageSpec.tensors(sizes: [5, 10, 15], producer: "json-pub")
        for index in messages.indices {
            messages[index].kind = "json_object"
            messages[index].topic = "rows"
        }

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 30, in: scratch)
        try Producer(
            endpoint: try daemon.inputEndpoint(of: "sensors"), socket: "pub", rowsFile: rowsFile, messages: messages,
            probeReadyFile: consumer.readyFile, probeTopic: "rows", probeKind: "json_object"
        ).run(in: scratch)
        let received = try consumer.messages()

        #expect(try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(messages)) == Array(0..<30))
        #expect(try daemon.terminate() == 0)
        #expect(try daemon.finalCounts(of: "sensors")["messages_rejected"] == "0")
    }
}
