import Foundation
import NormTesting
import Testing

/// The daemon's checkpoints, driven through the built binary: restart continuity, kill -9 under
/// load, fallback past a damaged generation, refusal of mismatched statistics, reset.
@Suite(.serialized) struct CheckpointDaemonTests {
    static let rows = 8, features = 3

    /// min_max and batch_renorm: both outputs depend on the saved statistics, even in train mode.
    static func config(everyBatches: Int = 1000, virtualBatchSize: Int? = nil, keep: Int = 3) -> String {
        """
        checkpoint: {path: state, every_batches: \(everyBatches), every_seconds: 3600, keep: \(keep)}
        pipelines:
          - name: p
            features: \(features)
            batch: {size: \(rows), max_latency: 10s}
            inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true, codec: tensor}]
            output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
            stages:
              - type: min_max
              - type: batch_renorm
                momentum: 0.9
                renorm_momentum: 0.9
                renorm_clipping: {rmax: 2, rmin: 0.5, dmax: 1}
        \(virtualBatchSize.map { "        virtual_batch_size: \($0)" } ?? "")
        """
    }

    private func generations(_ scratch: ScratchDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: scratch.path("state")).filter { $0.hasPrefix("normd-state-") }.sorted()
    }

    /// The flat JSON export of the newest valid generation.
    private func exported(_ scratch: ScratchDirectory) throws -> [String: Any] {
        let out = scratch.path("export-\(UUID().uuidString).json")
        let result = try Normd.run(["state", "export", scratch.path("state"), "--format", "json", "--output", out])
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
    }

    @Test func aRestartContinuesExactlyWhereTheDaemonStopped() throws {
        let straight = try ScratchDirectory(), restarted = try ScratchDirectory()
        let straightConfig = try straight.write(Self.config(), to: "normd.yaml")
        let restartedConfig = try restarted.write(Self.config(), to: "normd.yaml")

        let uninterrupted = try DaemonUnderTest(config: straightConfig, logDirectory: straight.url)
        let expected = try TensorClient.exchange(uninterrupted, indices: 0..<4, rows: Self.rows, features: Self.features)
        #expect(uninterrupted.terminate() == 0)

        let first = try DaemonUnderTest(config: restartedConfig, logDirectory: restarted.url)
        let before = try TensorClient.exchange(first, indices: 0..<3, rows: Self.rows, features: Self.features)
        #expect(first.terminate() == 0)
        #expect(
            first.logLines.contains("level=info msg=\"final checkpoint\" file=\(restarted.path("state"))/normd-state-00000001.json generation=1"),
            "\(first.log)")
        let second = try DaemonUnderTest(config: restartedConfig, logDirectory: restarted.url)
        #expect(second.logLines.contains { $0.hasPrefix("level=info msg=\"statistics restored") && $0.hasSuffix("pipeline=p") })
        let after = try TensorClient.exchange(second, indices: 3..<4, rows: Self.rows, features: Self.features)
        #expect(second.terminate() == 0)

        #expect(before == Array(expected[0..<3]))
        #expect(after == [expected[3]], "the batch after the restart must equal the uninterrupted run's, bit for bit")
        let straightState = try exported(straight), restartedState = try exported(restarted)
        #expect(NSDictionary(dictionary: straightState).isEqual(to: restartedState))
        #expect(restartedState["p/1_batch_renorm/train_batches"] as? Int == 4)
        #expect(restartedState["p/0_min_max/n_samples_seen"] as? Int == 4 * Self.rows)
    }

    @Test func killNineWhileWritingAlwaysLeavesALoadableGeneration() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(everyBatches: 1), to: "normd.yaml")
        var trained = 0
        for iteration in 0..<15 {
            let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
            #expect(daemon.isRunning, "iteration \(iteration): \(daemon.log)")
            if iteration > 0 {
                #expect(daemon.logLines.contains { $0.hasPrefix("level=info msg=\"checkpoint loaded\"") }, "iteration \(iteration): \(daemon.log)")
                #expect(!daemon.log.contains("unreadable"), "iteration \(iteration): \(daemon.log)")
            }
            let newestAtStart = try generations(scratch).last
            let client = try TensorClient.startFlood(daemon, rows: Self.rows, features: Self.features, in: scratch.url)
            // Kill at a random moment once generations are being written under load.
            let deadline = Date().addingTimeInterval(10)
            while try generations(scratch).last == newestAtStart && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
            Thread.sleep(forTimeInterval: Double.random(in: 0.0...0.25))
            // The flood must be running when the daemon dies (that is the test); it never
            // reconnects, and is stopped and waited for at once.
            daemon.kill9()
            client.stop()

            let show = try Normd.run(["state", "show", scratch.path("state")])
            #expect(show.status == 0 && show.stderr.isEmpty, "iteration \(iteration): \(show.stderr)")
            let count = try exported(scratch)["p/1_batch_renorm/train_batches"] as? Int ?? -1
            #expect(count >= trained, "iteration \(iteration): statistics went back from \(trained) to \(count) batches")
            trained = count
            #expect(try generations(scratch).count <= 3 + 1, "keep: 3 (+ at most one written between prune steps)")
        }
        #expect(trained > 15, "the loop should have trained under load; it trained \(trained) batches")
    }

    @Test func aCorruptedNewestGenerationFallsBackToThePreviousOne() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(everyBatches: 1), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        // One batch, then its generation, then the next: the writer coalesces snapshots it has not
        // written yet, and a final checkpoint of unchanged statistics writes no new generation.
        for index in 0..<2 {
            _ = try TensorClient.exchange(daemon, indices: index..<(index + 1), rows: Self.rows, features: Self.features)
            _ = try waitFor("generation \(index + 1)", timeout: .seconds(30)) { try generations(scratch).count > index ? true : nil }
        }
        #expect(daemon.terminate() == 0)
        let files = try generations(scratch)
        try #require(files.count >= 2, "\(files)")
        let newest = scratch.path("state/" + files.last!), previous = scratch.path("state/" + files[files.count - 2])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        try bytes.prefix(bytes.count - 40).write(to: URL(fileURLWithPath: newest))

        let restarted = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(restarted.terminate() == 0)
        let lines = restarted.logLines
        #expect(
            lines.contains {
                $0.hasPrefix(
                    "level=error msg=\"checkpoint generation unreadable; falling back to an older one\" error=\"\(newest): not a normd state file: not valid JSON (truncated or damaged?)"
                )
            }, "\(restarted.log)")
        #expect(lines.contains("level=info msg=\"checkpoint loaded\" file=\(previous) generation=\(files.count - 1)"), "\(restarted.log)")
    }

    @Test func aChangedStageParameterIsRefusedUnlessResetIsAsked() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        _ = try TensorClient.exchange(daemon, indices: 0..<2, rows: Self.rows, features: Self.features)
        #expect(daemon.terminate() == 0)
        let saved = try generations(scratch)
        try #require(saved.count == 1, "\(saved)")

        _ = try scratch.write(Self.config(virtualBatchSize: 4), to: "normd.yaml")
        let refused = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(refused.waitForExit() == 78)
        #expect(
            refused.logLines.last == "normd run: checkpoint \(scratch.path("state/" + saved[0])): pipeline 'p', stages[1] (batch_renorm): "
                + "saved statistics were computed with different parameters: virtual_batch_size is none in the state file, 4 in the configuration; "
                + "to discard the saved statistics start with --reset-state or set checkpoint.on_mismatch: reset")
        #expect(try generations(scratch) == saved, "a refused start writes nothing")

        let reset = try DaemonUnderTest(config: config, arguments: ["--reset-state"], logDirectory: scratch.url)
        #expect(reset.isRunning)
        #expect(
            reset.logLines.contains {
                $0.hasPrefix("level=warning msg=\"--reset-state: checkpoints ignored; every pipeline starts from fresh statistics\"")
            })
        #expect(reset.terminate() == 0)
        let state = try exported(scratch)
        #expect(state["p/1_batch_renorm/train_batches"] as? Int == 0)
        #expect(state["p/0_min_max/n_samples_seen"] as? Int == 0)

        let again = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(again.isRunning, "after a reset the new configuration's checkpoint loads: \(again.log)")
        #expect(again.terminate() == 0)
    }
}
