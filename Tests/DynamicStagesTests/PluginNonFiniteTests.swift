import Foundation
import NormTesting
import Testing

/// A C plugin that writes NaN, followed by `batch_norm`, in the real daemon: the NaN never reaches
/// batch_norm's statistics, the batch is re-run in infer mode (or its rows counted as dropped when
/// infer fails too), and checkpoints stay writable. And a C plugin that fails at position 2 of 3:
/// the first stage's statistics are put back.
@Suite(.serialized) struct PluginNonFiniteTests {
    /// Runs the daemon with stages `[kind, batch_norm]`, sends 8 rows as one message (two batches of 4),
    /// reads `expectBatches` batches back, stops it with SIGTERM. Returns the batches as
    /// `[header, values]` JSON, the log and the exit status.
    private func run(
        plugin process: String, kind: String, expectBatches: Int,
        stages: String? = nil
    ) throws -> (batches: String, log: String, status: Int32, scratch: ScratchDirectory) {
        try BuildProducts.require(BuildProducts.normd.path)
        let scratch = try ScratchDirectory()
        let library = try TestPlugin.build(TestPlugin.source(kind: kind, process: process), named: kind, in: scratch)
        try scratch.write(
            """
            plugins: [\(library)]
            checkpoint: {path: state, every_batches: 1, every_seconds: 3600}
            pipelines:
              - name: p
                features: 2
                batch: {size: 4, min_rows: 2, max_latency: 10s}
                inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true}]
                output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
                stages: \(stages ?? "[{type: \(kind)}, {type: batch_norm, momentum: 0.5, epsilon: 0.001}]")

            """, to: "cfg.yaml")
        let daemon = try DaemonProcess.started(configFile: scratch.path("cfg.yaml"), scratch: scratch)
        let input = try daemon.inputEndpoint(of: "p"), output = try daemon.outputEndpoint(of: "p")
        let batches = try PythonScript.standardOutput(
            of: """
                import json, zmq, numpy as np
                ctx = zmq.Context()
                push = ctx.socket(zmq.PUSH); push.connect("\(input)")
                pull = ctx.socket(zmq.PULL); pull.connect("\(output)"); pull.RCVTIMEO = 10000
                a = (np.arange(16, dtype=np.float32).reshape(8, 2) * 0.5 + 3).astype(np.float32)
                push.send_json({"dtype": "float32", "shape": [8, 2], "producer": "t", "seq": 0}, zmq.SNDMORE); push.send(a)
                got = []
                for _ in range(\(expectBatches)):
                    header, payload = pull.recv_multipart()
                    got.append([json.loads(header), np.frombuffer(payload, "<f4").tolist()])
                print(json.dumps(got, sort_keys=True))
                push.close(5000); pull.close(0); ctx.term()  # linger: deliver the message even when nothing comes back
                """)
        if expectBatches == 0 {
            // Nothing comes back: wait until the pipeline counted the batches it failed.
            _ = try daemon.waitForLine("the failed batch's dropped rows", timeout: .seconds(10)) {
                $0.text.contains("its rows are dropped\" batch=1")
            }
        }
        let status = try daemon.terminate()
        return (String(decoding: batches, as: UTF8.self), daemon.stderr, status, scratch)
    }

    /// batch_norm's saved statistics in the newest checkpoint, through `normd state export`.
    private func savedBatchNorm(_ scratch: ScratchDirectory) throws -> String {
        let out = scratch.path("export.json")
        let export = Process()
        export.executableURL = BuildProducts.normd
        export.arguments = ["state", "export", scratch.path("state"), "--format", "json", "--output", out]
        try export.run()
        export.waitUntilExit()
        try #require(export.terminationStatus == 0)
        return try String(contentsOfFile: out, encoding: .utf8)
    }

    @Test func aNaNWrittenInTrainModeIsRefusedAndTheBatchIsPublishedInInferMode() throws {
        let (batches, log, status, scratch) = try run(
            plugin: "(void)rows; (void)features; if (train) values[3] = NAN;",
            kind: "nan_in_train", expectBatches: 2)
        #expect(status == 0, "\(log)")
        // Infer mode: the plugin passes values through; batch_norm uses its initial statistics
        // (mean 0, variance 1): y = x / sqrt(1 + 0.001).
        let scale = 1 / (1.001).squareRoot()
        let expectedValues = (0..<16).map { Float(Float(Double($0) * 0.5 + 3) * Float(scale)) }
        let reason = "stage failed: stages[0] (nan_in_train): wrote the non-finite value nan at row 1, column 1"
        struct Published: Decodable, Equatable {
            var batch: Int
            var mode: String
            var downgraded: String?
            var stats_version: Int
            var stages: [String]
        }
        let decoded = try JSONSerialization.jsonObject(with: Data(batches.utf8)) as? [[Any]]
        let frames = try #require(decoded)
        #expect(frames.count == 2)
        for (index, frame) in frames.enumerated() {
            let header = try JSONDecoder().decode(Published.self, from: JSONSerialization.data(withJSONObject: frame[0]))
            #expect(header == Published(batch: index, mode: "infer", downgraded: reason, stats_version: 0, stages: ["nan_in_train", "batch_norm"]))
            let values = try #require(frame[1] as? [Double]).map(Float.init)
            let expected = Array(expectedValues[(index * 8)..<((index + 1) * 8)])
            #expect(zip(values, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(values) vs \(expected)")
        }
        #expect(log.contains("downgraded=2 batches_dropped=0 batches_failed=2"), "\(log)")
        #expect(log.contains("msg=\"final checkpoint\""), "\(log)")
        #expect(!log.contains("checkpoint write failed"), "\(log)")
        #expect(try savedBatchNorm(scratch).contains("\"p/1_batch_norm/moving_mean\":[0,0],\"p/1_batch_norm/moving_variance\":[1,1]"))
    }

    @Test func aNaNWrittenInBothModesDropsTheRowsAndCountsThem() throws {
        let (batches, log, status, scratch) = try run(
            plugin: "(void)rows; (void)features; (void)train; values[0] = NAN;",
            kind: "nan_always", expectBatches: 0)
        #expect(status == 0, "\(log)")
        #expect(batches == "[]\n")
        #expect(log.contains("rows_dropped={stage_failed: 8}"), "\(log)")
        #expect(log.contains("batches=0 rows_published=0 partial_batches=0 downgraded=0 batches_dropped=0 batches_failed=2"), "\(log)")
        #expect(!log.contains("checkpoint write failed"), "\(log)")
        #expect(try savedBatchNorm(scratch).contains("\"p/1_batch_norm/moving_mean\":[0,0],\"p/1_batch_norm/moving_variance\":[1,1]"))
    }

    @Test func aPluginFailingAtPosition2Of3LeavesEveryStatisticUnchangedAndTheBatchIsPublished() throws {
        let (batches, log, status, scratch) = try run(
            plugin: "(void)values; (void)rows; (void)features; if (train) return NORMD_STAGE_ERR_DATA;", kind: "fail_train",
            expectBatches: 2, stages: "[{type: min_max}, {type: fail_train}, {type: batch_norm, momentum: 0.5, epsilon: 0.001}]")
        #expect(status == 0, "\(log)")
        // Infer mode from the original rows: min_max was never fitted (identity), the plugin passes
        // values through, batch_norm uses its initial statistics: y = x / sqrt(1 + 0.001).
        let scale = Float(1 / (1.001).squareRoot())
        let values = (0..<16).map { Float(Double($0) * 0.5 + 3) * scale }
        let expected = (0..<2).map { batch in
            "[{\"batch\": \(batch), \"downgraded\": \"stage failed: stages[1] (fail_train): process failed with status 2 (the plugin gave no message)\", "
                + "\"dtype\": \"<f4\", \"mode\": \"infer\", \"pipeline\": \"p\", \"shape\": [4, 2], "
                + "\"sources\": [{\"message_rows\": [\(batch * 4), \(batch * 4 + 4)], \"producer\": \"t\", \"rows\": [0, 4], \"seq\": 0}], "
                + "\"stages\": [\"min_max\", \"fail_train\", \"batch_norm\"], \"stats_version\": 0}, "
        }
        let frames = try #require(try JSONSerialization.jsonObject(with: Data(batches.utf8)) as? [[Any]])
        #expect(frames.count == 2)
        for (index, frame) in frames.enumerated() {
            let published = try #require(frame[1] as? [Double]).map(Float.init)
            #expect(published == Array(values[(index * 8)..<((index + 1) * 8)]), "\(published)")
        }
        // The header as Python printed it (json.dumps with sort_keys), whole.
        for (index, prefix) in expected.enumerated() {
            #expect(batches.contains(prefix), "batch \(index): \(batches)")
        }
        #expect(log.contains("downgraded=2 batches_dropped=0 batches_failed=2"), "\(log)")
        let saved = try savedBatchNorm(scratch)
        #expect(saved.contains("\"p/0_min_max/n_samples_seen\":0"), "\(saved)")
        #expect(!saved.contains("p/0_min_max/data_min"), "min_max's fit was put back: \(saved)")
        #expect(saved.contains("\"p/2_batch_norm/moving_mean\":[0,0],\"p/2_batch_norm/moving_variance\":[1,1]"), "\(saved)")
    }
}
