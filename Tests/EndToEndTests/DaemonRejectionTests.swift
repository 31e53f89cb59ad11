import Foundation
import NormTesting
import Testing

/// Bad messages between good ones: the good rows all arrive, the daemon keeps running, and every
/// rejection is counted by reason and logged with pipeline, endpoint and reason.
@Suite struct DaemonRejectionTests {
    @Test func malformedAndNonFiniteMessagesAreCountedAndTheRestArrives() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(PipelineYAML()), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(15, features: 4), to: "rows.npy", in: scratch)
        let good = MessageSpec.tensors(sizes: [3, 2, 4, 5, 1], producer: "p")
        func bad(_ kind: String) -> MessageSpec { MessageSpec(kind: kind, rows: 0..<2) }
        let messages = [
            good[0], bad("garbage_header"), good[1], bad("frame_count"), bad("payload_size"), good[2],
            bad("wrong_width"), bad("nan"), good[3], bad("garbage_header"), good[4],
        ]
        let input = try daemon.inputEndpoint(of: "sensors")

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 15, in: scratch)
        try Producer(endpoint: input, rowsFile: rowsFile, messages: messages).run(in: scratch)
        try daemon.waitForCounts(of: "sensors", "15 rows and 6 rejections") {
            $0.int("rows_accepted") == 15 && $0["messages_rejected"]?.contains("wrong_width") == true
        }
        #expect(daemon.isRunning)
        #expect(try daemon.terminate() == 0)
        let received = try consumer.messages()

        #expect(try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(good)) == Array(0..<15))
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts["messages_rejected"] == "{frame_count: 1, malformed_header: 2, non_finite: 1, payload_size: 1, wrong_width: 1}")
        #expect(counts.int("messages_accepted") == 5)

        let warnings = daemon.logLines.filter { $0.message?.hasPrefix("message rejected: ") == true }
        #expect(
            warnings.map { $0["reason"] ?? "?" } == [
                "malformed_header", "frame_count", "payload_size", "wrong_width", "non_finite", "malformed_header",
            ])
        #expect(
            warnings.allSatisfy { $0.level == "warning" && $0["pipeline"] == "sensors" && $0["endpoint"] == input && $0["input"] == "0" },
            "every rejection names the pipeline and the bound endpoint \(input):\n\(warnings.map(\.text).joined(separator: "\n"))")
        #expect(
            warnings.dropFirst().prefix(4).map { $0.message ?? "" } == [
                "message rejected: message has 4 frames, expected 2 (or 3 with a leading topic frame)",
                "message rejected: payload is 28 bytes, header shape [2, 4] of <f4 needs 32",
                "message rejected: rows have 3 features, the pipeline expects 4",
                "message rejected: non-finite value at row 0, column 0 of the message",
            ])
    }

    @Test func dropRowsDropsOnlyTheNonFiniteRow() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(
            config: PipelineYAML.config(PipelineYAML(extra: ["invalid_rows: drop_rows"])), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(8, features: 4), to: "rows.npy", in: scratch)
        var messages = MessageSpec.tensors(sizes: [3, 5], producer: "p")
        messages[0].kind = "nan"
        messages[0].nanRow = 1

        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 7, in: scratch)
        try Producer(endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile, messages: messages).run(in: scratch)
        try daemon.waitForCounts(of: "sensors", "rows_accepted=7") { $0.int("rows_accepted") == 7 }
        #expect(try daemon.terminate() == 0)
        let received = try consumer.messages()

        #expect(try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(messages)) == [0, 2, 3, 4, 5, 6, 7])
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts["rows_dropped"] == "{non_finite: 1}")
        #expect(counts["messages_rejected"] == "0" && counts.int("messages_accepted") == 2)
    }
}
