import Foundation
import NormTesting
import Testing

/// Rows sent with the pyzmq tensor recipe come out of the daemon in order, batched like
/// `normd apply` batches them, with the same numbers and a header that accounts for every row.
@Suite struct DaemonRoundTripTests {
    @Test func tensorRowsComeOutInOrderAndEqualNormdApply() throws {
        let scratch = try ScratchDirectory()
        let pipeline = PipelineYAML(features: 5, batch: "{size: 16, min_rows: 2, max_latency: 10s}")
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rows = TestRows.make(75, features: 5)
        let rowsFile = try TestRows.write(rows, to: "rows.npy", in: scratch)

        // One row as the pyzmq recipe sends it (dtype "float32", shape [F]), then <f8 and <f4 messages.
        var messages = MessageSpec.tensors(sizes: [1, 3, 7, 1, 16, 20, 2, 25], producer: "cam-1", dtype: "<f8")
        messages[0].dtype = "float32"
        messages[0].oneDimensional = true
        messages[5].dtype = "<f4"
        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 75, in: scratch)
        try Producer(endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile, messages: messages).run(in: scratch)
        // Every row is in the daemon before SIGTERM, so the final partial batch holds the last 11.
        try daemon.waitForCounts(of: "sensors", "rows_accepted=75") { $0.int("rows_accepted") == 75 }
        #expect(try daemon.terminate() == 0)
        let received = try consumer.messages()

        #expect(received.map(\.batch) == Array(0..<5))
        #expect(received.allSatisfy { $0.header?["pipeline"] as? String == "sensors" })
        #expect(received.allSatisfy { $0.header?["mode"] as? String == "train" && $0.header?["downgraded"] == nil })
        #expect(received.allSatisfy { $0.header?["stages"] as? [String] == ["min_max", "batch_norm"] })
        #expect(received.allSatisfy { $0.header?["dtype"] as? String == "<f4" && $0.frames == 2 })
        #expect(received.map { $0.header?["shape"] as? [Int] ?? [] } == [[16, 5], [16, 5], [16, 5], [16, 5], [11, 5]])
        let versions = received.compactMap(\.statsVersion)
        #expect(
            versions.count == 5 && zip(versions, versions.dropFirst()).allSatisfy { $0 < $1 },
            "stats_version must grow with every train batch: \(versions)")
        #expect(try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(messages)) == Array(0..<75))

        let expected = try ApplyReference.normalize(rowsFile: rowsFile, config: daemon.configPath, batchSize: 16, in: scratch)
        ApplyReference.expectEqual(received, expected, batchSizes: [16, 16, 16, 16, 11])
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts.int("messages_accepted") == 8 && counts.int("batches") == 5 && counts.int("partial_batches") == 1)
        #expect(counts["messages_rejected"] == "0")
    }
}
