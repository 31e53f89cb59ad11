import Foundation
import NormTesting
import Testing

/// Socket shapes: SUB with topic prefixes, PUSH/PULL fan-in, ipc:// endpoints.
@Suite struct DaemonSocketTests {
    @Test func aSubInputPassesOnlyItsTopicPrefixes() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML(batch: "{size: 16, min_rows: 2, max_latency: 50ms}")
        pipeline.inputs = ["{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: sub, bind: true, topics: [\"features.\"]}"]
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(40, features: 4), to: "rows.npy", in: scratch)
        // features.a rows 0..<20 in four messages; "other" rows 20..<40 sent between them.
        var wanted = MessageSpec.tensors(sizes: [5, 5, 5, 5], producer: "a")
        var unwanted = MessageSpec.tensors(sizes: [10, 10], producer: "other", from: 20)
        for index in wanted.indices { wanted[index].topic = "features.a" }
        for index in unwanted.indices { unwanted[index].topic = "other" }
        let messages = [wanted[0], unwanted[0], wanted[1], wanted[2], unwanted[1], wanted[3]]

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 20, in: scratch)
        let sent = try Producer(
            endpoint: try daemon.inputEndpoint(of: "sensors"), socket: "pub", rowsFile: rowsFile,
            messages: messages, probeReadyFile: consumer.readyFile, probeTopic: "features.probe"
        ).run(in: scratch)
        let received = try consumer.messages()

        #expect(try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(messages)) == Array(0..<20))
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        // Probes are one row each and the first ones may be lost to the slow joiner; every measured
        // "other" message would add 9 to rows − messages, so this holds only if none got through.
        let rows = try #require(counts.int("rows_accepted")), accepted = try #require(counts.int("messages_accepted"))
        #expect(rows - accepted == 20 - 4, "\(counts)")
        #expect((1...sent.probes).contains(accepted - 4), "\(sent.probes) probes sent: \(counts)")
    }

    @Test func twoPushProducersFanInWithEveryRowExactlyOnce() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(PipelineYAML()), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(180, features: 4), to: "rows.npy", in: scratch)
        let first = MessageSpec.tensors(sizes: Array(repeating: 3, count: 30), producer: "a")
        let second = MessageSpec.tensors(sizes: Array(repeating: 3, count: 30), producer: "b", from: 90)
        let input = try daemon.inputEndpoint(of: "sensors")

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 180, in: scratch)
        let producers = try [(first, "producer-a"), (second, "producer-b")].map { messages, name in
            try Producer(endpoint: input, rowsFile: rowsFile, messages: messages).start(in: scratch, name: name)
        }
        for producer in producers { _ = try Producer.result(of: producer, messages: 30) }
        try daemon.waitForCounts(of: "sensors", "rows_accepted=180") { $0.int("rows_accepted") == 180 }
        #expect(try daemon.terminate() == 0)
        let received = try consumer.messages()

        let traced = try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(first + second))
        #expect(traced.sorted() == Array(0..<180), "every row exactly once")
        #expect(traced.filter { $0 < 90 } == Array(0..<90), "producer a's rows in its order")
        #expect(traced.filter { $0 >= 90 } == Array(90..<180), "producer b's rows in its order")
        let producerNames = Set(received.flatMap(\.sources).compactMap { $0["producer"] as? String })
        #expect(producerNames == ["a", "b"])
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts.int("messages_accepted") == 60 && counts.int("seq_gaps") == 0 && counts.int("rows_published") == 180)
    }

    @Test func ipcInputAndOutputForASidecar() throws {
        let scratch = try ScratchDirectory()
        let input = "ipc://\(scratch.path("in.sock"))", output = "ipc://\(scratch.path("out.sock"))"
        var pipeline = PipelineYAML(batch: "{size: 8, min_rows: 2, max_latency: 10s}")
        pipeline.inputs = ["{endpoint: \"\(input)\", socket: pull, bind: true}"]
        pipeline.output = "{endpoint: \"\(output)\", socket: push, bind: true}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        #expect(try daemon.inputEndpoint(of: "sensors") == input)
        #expect(try daemon.outputEndpoint(of: "sensors") == output)
        let rowsFile = try TestRows.write(TestRows.make(20, features: 4), to: "rows.npy", in: scratch)
        let messages = MessageSpec.tensors(sizes: [6, 6, 8], producer: "trainer-feed")

        let consumer = try Consumer(endpoint: output, expectRows: 20, in: scratch)
        try Producer(endpoint: input, rowsFile: rowsFile, messages: messages).run(in: scratch)
        try daemon.waitForCounts(of: "sensors", "rows_accepted=20") { $0.int("rows_accepted") == 20 }
        #expect(try daemon.terminate() == 0)
        let received = try consumer.messages()

        #expect(try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(messages)) == Array(0..<20))
        let expected = try ApplyReference.normalize(rowsFile: rowsFile, config: daemon.configPath, batchSize: 8, in: scratch)
        ApplyReference.expectEqual(received, expected, batchSizes: [8, 8, 4])
    }
}
