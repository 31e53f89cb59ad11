import Foundation
import NormTesting
import Testing

/// Producer `seq` tracking across a re-bind (issue 9 §4): the successor of a re-bound pipeline takes
/// over its predecessor's per-producer positions (by input index and producer name), so a producer
/// that goes on counting after the re-bind is in order, the messages it sent while the pipeline was
/// re-bound (to an endpoint nobody read) show as a gap, and going back shows as a restart.
@Suite(.serialized) struct ReloadSequenceTests {
    /// Sends one 1-row message per `seq`, in order, from producer `p`, on one connection.
    static func send(seqs: [Int], to endpoint: String) throws {
        _ = try PythonScript.run(
            """
            import zmq
            c = zmq.Context()
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 5000); push.connect("\(endpoint)")
            for seq in \(seqs):
                push.send_json({"dtype": "float32", "shape": [1, \(ReloadPipelinesTests.features)], "seq": seq, "producer": "p"}, zmq.SNDMORE)
                push.send(bytes(4 * \(ReloadPipelinesTests.features)))
            push.close(); c.term()
            """)
    }

    @Test func aProducersSeqContinuesAcrossARebind() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.url.path
        let config = { (inputs: Int) in ReloadMetricsTests.config([ReloadMetricsTests.pipeline("a", inputs: inputs, in: dir)]) }
        let daemon = try DaemonProcess.started(config: config(1), scratch: scratch)
        let admin = try AdminHTTP(daemon)
        try Self.send(seqs: [0, 1, 2], to: "ipc://\(dir)/a-in0")
        try daemon.waitForCounts(of: "a", "3 rows accepted") { $0["rows_accepted"] == "3" }

        // A second input re-binds the pipeline (input 0 keeps its endpoint).
        let answer = try ReloadPipelinesTests.reload(daemon, to: config(2), admin)
        #expect(answer.status == 200, "\(answer.body)")
        #expect(daemon.logLines.contains { $0.message == "reload: pipeline re-bound" && $0["changed"] == "inputs" }, "\(daemon.stderr)")

        // 3 and 4 never arrived (as if sent while the pipeline was re-bound): one gap of 2; then 6 in order; then 0, a restart.
        try Self.send(seqs: [5, 6, 0], to: "ipc://\(dir)/a-in0")
        try daemon.waitForCounts(of: "a", "6 rows accepted") { $0["rows_accepted"] == "6" }
        let scrape = try admin.metrics { $0[#"normd_sequence_restarts_total{pipeline="a"}"#] == 1 }
        #expect(scrape[#"normd_sequence_gaps_total{pipeline="a"}"#] == 1)
        #expect(scrape[#"normd_messages_missed_total{pipeline="a"}"#] == 2)
        #expect(scrape[#"normd_sequence_restarts_total{pipeline="a"}"#] == 1)
        #expect(try daemon.terminate() == 0, "\(daemon.stderr)")
        let counts = try daemon.finalCounts(of: "a").text
        #expect(counts.contains(" seq_gaps=1 messages_missed=2 seq_restarts=1 producers_evicted=0 "), "\(counts)")
    }
}
