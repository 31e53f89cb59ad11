import Foundation
import NormTesting
import Testing

/// SIGHUP reloads the configuration file (issue 9 §4), driven through the built binary and pyzmq:
/// kept statistics continue bit for bit, an invalid file changes nothing, a fingerprint change
/// resets that stage (after checkpointing it) or is refused with `on_mismatch: refuse`, and rows
/// waiting in the batcher and the counts carry over.
@Suite(.serialized) struct ReloadTests {
    static let features = 3

    static func config(size: Int, momentum: Double = 0.9, epsilon: Double = 0.001, checkpoint: String? = nil) -> String {
        """
        \(checkpoint.map { "checkpoint: {path: state, every_batches: 1000, every_seconds: 3600\($0)}" } ?? "")
        pipelines:
          - name: p
            features: \(features)
            batch: {size: \(size), max_latency: 10s}
            inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true, codec: tensor}]
            output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
            stages:
              - type: min_max
              - type: batch_renorm
                momentum: \(momentum)
                renorm_momentum: 0.9
                epsilon: \(epsilon)
                renorm_clipping: {rmax: 2, rmin: 0.5, dmax: 1}
        """
    }

    /// Rewrites the daemon's file, sends SIGHUP and returns the reload's last line (succeeded or failed).
    private func reload(_ daemon: DaemonUnderTest, to text: String, file: String) throws -> LogLine {
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        daemon.send(SIGHUP)
        return try waitFor("the reload's outcome", timeout: .seconds(30)) {
            daemon.logLines.map(LogLine.init).first { $0.message == "reload succeeded" || $0.message == "reload failed" }
        }
    }

    /// The flat JSON export of a state file or checkpoint directory.
    private func exported(_ path: String, in scratch: ScratchDirectory) throws -> [String: Any] {
        let out = scratch.path("export-\(UUID().uuidString).json")
        let result = try Normd.run(["state", "export", path, "--format", "json", "--output", out])
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
    }

    private func finalCounts(_ daemon: DaemonUnderTest) -> String? {
        daemon.logLines.map(LogLine.init).last { $0.message == "final counts" }?["counts"]
    }

    /// batch.size 8 → 4 and momentum 0.9 → 0.5 by SIGHUP give exactly what a stop, a checkpoint and
    /// a restart on the new file give: the statistics continue from where they were, bit for bit.
    @Test func aReloadChangingBatchSizeAndMomentumKeepsTheStatisticsBitwise() throws {
        let reloaded = try ScratchDirectory(), restarted = try ScratchDirectory()
        let before = Self.config(size: 8, checkpoint: ""), after = Self.config(size: 4, momentum: 0.5, checkpoint: "")

        let reloadedConfig = try reloaded.write(before, to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: reloadedConfig, logDirectory: reloaded.url)
        let first = try TensorClient.exchange(daemon, indices: 0..<3, rows: 8, features: Self.features)
        let outcome = try reload(daemon, to: after, file: reloadedConfig)
        #expect(outcome.message == "reload succeeded", "\(daemon.log)")
        #expect(outcome["kept"] == "p/0:min_max,p/1:batch_renorm" && outcome["reset"] == "" && outcome["result"] == "success", "\(daemon.log)")
        let second = try TensorClient.exchange(daemon, indices: 3..<6, rows: 4, features: Self.features)
        #expect(daemon.terminate() == 0)
        #expect(finalCounts(daemon)?.hasPrefix("messages_accepted=6 rows_accepted=36 ") == true, "counts must not reset: \(daemon.log)")
        #expect(finalCounts(daemon)?.contains(" batches=6 rows_published=36 partial_batches=0 ") == true, "\(daemon.log)")

        let restartedConfig = try restarted.write(before, to: "normd.yaml")
        let old = try DaemonUnderTest(config: restartedConfig, logDirectory: restarted.url)
        let expectedFirst = try TensorClient.exchange(old, indices: 0..<3, rows: 8, features: Self.features)
        #expect(old.terminate() == 0)
        _ = try restarted.write(after, to: "normd.yaml")
        let new = try DaemonUnderTest(config: restartedConfig, logDirectory: restarted.url)
        let expectedSecond = try TensorClient.exchange(new, indices: 3..<6, rows: 4, features: Self.features)
        #expect(new.terminate() == 0)

        #expect(first == expectedFirst)
        #expect(second == expectedSecond, "the batches after the reload must equal those after a restart, bit for bit")
        let reloadedState = try exported(reloaded.path("state"), in: reloaded)
        let restartedState = try exported(restarted.path("state"), in: restarted)
        #expect(NSDictionary(dictionary: reloadedState).isEqual(to: restartedState))
        #expect(reloadedState["p/1_batch_renorm/train_batches"] as? Int == 6)
        #expect(reloadedState["p/0_min_max/n_samples_seen"] as? Int == 36)
    }

    /// A file that does not validate changes nothing: its located message and "reload failed" are
    /// logged, the batches go on exactly as without the SIGHUP, and the exit is 0.
    @Test func aReloadWithAnInvalidFileChangesNothing() throws {
        let scratch = try ScratchDirectory(), straight = try ScratchDirectory()
        let config = try scratch.write(Self.config(size: 8), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        let first = try TensorClient.exchange(daemon, indices: 0..<2, rows: 8, features: Self.features)
        let outcome = try reload(daemon, to: Self.config(size: 4, momentum: 7), file: config)
        #expect(outcome.message == "reload failed", "\(daemon.log)")
        #expect(outcome["result"] == "failure" && outcome["problems"] == "1")
        let problems = daemon.logLines.filter { $0.hasPrefix("level=error msg=\"\(config):") }
        #expect(problems.count == 1, "\(daemon.log)")
        #expect(problems.first?.hasPrefix("level=error msg=\"\(config):11:19: pipelines[0].stages[1].momentum: ") == true, "\(daemon.log)")
        let second = try TensorClient.exchange(daemon, indices: 2..<4, rows: 8, features: Self.features)
        #expect(daemon.terminate() == 0)
        #expect(finalCounts(daemon)?.hasPrefix("messages_accepted=4 rows_accepted=32 ") == true, "\(daemon.log)")

        let reference = try DaemonUnderTest(config: try straight.write(Self.config(size: 8), to: "normd.yaml"), logDirectory: straight.url)
        let expected = try TensorClient.exchange(reference, indices: 0..<4, rows: 8, features: Self.features)
        #expect(reference.terminate() == 0)
        #expect(first + second == expected, "the old configuration must run on unchanged")
    }

    /// A changed epsilon (in batch_renorm's fingerprint) resets that stage only; with checkpoints on
    /// and `on_mismatch: reset`, the old statistics are written in a generation first.
    @Test func aFingerprintChangeResetsThatStageAfterCheckpointingIt() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(size: 8, checkpoint: ", keep: 10, on_mismatch: reset"), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        _ = try TensorClient.exchange(daemon, indices: 0..<3, rows: 8, features: Self.features)
        let outcome = try reload(daemon, to: Self.config(size: 8, epsilon: 0.01, checkpoint: ", keep: 10, on_mismatch: reset"), file: config)
        #expect(outcome.message == "reload succeeded", "\(daemon.log)")
        #expect(outcome["kept"] == "p/0:min_max" && outcome["reset"] == "p/1:batch_renorm", "\(daemon.log)")
        #expect(daemon.logLines.contains("level=notice msg=\"reload: statistics reset\" kind=batch_renorm pipeline=p stage=1"), "\(daemon.log)")
        let saved = try #require(
            daemon.logLines.map(LogLine.init).first { $0.message == "checkpoint written on request" && $0["signal"] == "reload" }?["file"],
            "\(daemon.log)")
        _ = try TensorClient.exchange(daemon, indices: 3..<5, rows: 8, features: Self.features)
        #expect(daemon.terminate() == 0)

        let beforeReset = try exported(saved, in: scratch)
        #expect(beforeReset["p/1_batch_renorm/train_batches"] as? Int == 3, "the generation written before the reset holds the old statistics")
        let final = try exported(scratch.path("state"), in: scratch)
        #expect(final["p/1_batch_renorm/train_batches"] as? Int == 2, "the reset stage counts only the batches after the reload")
        #expect(final["p/0_min_max/n_samples_seen"] as? Int == 40, "the kept stage counts every row")
        #expect(finalCounts(daemon)?.hasPrefix("messages_accepted=5 rows_accepted=40 ") == true, "\(daemon.log)")
    }

    /// With `on_mismatch: refuse` (the default) the same change is refused, naming the stage, and
    /// the statistics are untouched.
    @Test func aFingerprintChangeWithOnMismatchRefuseFailsNamingTheStage() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(size: 8, checkpoint: ""), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        _ = try TensorClient.exchange(daemon, indices: 0..<3, rows: 8, features: Self.features)
        let outcome = try reload(daemon, to: Self.config(size: 8, epsilon: 0.01, checkpoint: ""), file: config)
        #expect(outcome.message == "reload failed", "\(daemon.log)")
        #expect(
            daemon.logLines.contains(
                "level=error msg=\"\(config):3:5: pipelines[0].stages[1]: its statistics cannot be kept (fingerprint changed: epsilon 0.001 → 0.01) "
                    + "and checkpoint.on_mismatch is refuse; set on_mismatch: reset to start this stage fresh on reload\""), "\(daemon.log)")
        _ = try TensorClient.exchange(daemon, indices: 3..<4, rows: 8, features: Self.features)
        #expect(daemon.terminate() == 0)
        let final = try exported(scratch.path("state"), in: scratch)
        #expect(final["p/1_batch_renorm/train_batches"] as? Int == 4)
    }

    /// `mode: infer` by reload freezes the statistics from the next batch; the output headers say so.
    @Test func aReloadToInferModeFreezesTheStatistics() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(size: 8, checkpoint: ""), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        _ = try TensorClient.exchange(daemon, indices: 0..<2, rows: 8, features: Self.features)
        let infer = Self.config(size: 8, checkpoint: "").replacingOccurrences(of: "    features: ", with: "    mode: infer\n    features: ")
        let outcome = try reload(daemon, to: infer, file: config)
        #expect(outcome.message == "reload succeeded" && outcome["reset"] == "", "\(daemon.log)")
        let modes = try PythonScript.run(
            """
            import zmq
            \(TensorClient.batchFunction)
            c = zmq.Context()
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 1000); push.connect("\(daemon.inputEndpoint)")
            pull = c.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 10000); pull.connect("\(daemon.outputEndpoint)")
            out = []
            for i in range(2, 4):
                push.send_json({"dtype": "float32", "shape": [8, \(Self.features)]}, zmq.SNDMORE)
                push.send(batch(i, 8, \(Self.features)))
                header, payload = pull.recv_multipart()
                out.append(json.loads(header)["mode"])
            print(json.dumps(out))
            """)
        #expect(modes == "[\"infer\", \"infer\"]\n")
        #expect(daemon.terminate() == 0)
        let final = try exported(scratch.path("state"), in: scratch)
        #expect(final["p/1_batch_renorm/train_batches"] as? Int == 2, "infer batches must not train")
        #expect(final["p/0_min_max/n_samples_seen"] as? Int == 16)
        #expect(finalCounts(daemon)?.hasPrefix("messages_accepted=4 rows_accepted=32 ") == true, "\(daemon.log)")
    }

    /// Rows waiting in the batcher at the reload stay: 5 rows wait under batch.size 8; the reload to
    /// 4 emits a batch of 4 at once and keeps 1, which the next 3 rows complete. Nothing is lost or
    /// batched twice, and adding a `checkpoint:` section is refused ("needs a restart").
    @Test func rowsWaitingAtTheReloadGoIntoTheNextBatches() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(size: 8), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        let go = scratch.path("go")
        // Never reconnects, gives up without `go` after 60 s, and is waited for before the daemon stops.
        let client = try PythonScript.start(
            """
            import zmq, os, time
            c = zmq.Context()
            pull = c.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 20000); pull.setsockopt(zmq.RECONNECT_IVL, -1)
            pull.connect("\(daemon.outputEndpoint)")
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 1000); push.setsockopt(zmq.RECONNECT_IVL, -1)
            push.connect("\(daemon.inputEndpoint)")
            rows = np.arange(8 * \(Self.features), dtype='<f4').reshape(8, \(Self.features))
            push.send_json({"dtype": "float32", "shape": [5, \(Self.features)]}, zmq.SNDMORE); push.send(rows[:5].tobytes())
            deadline = time.time() + 60
            while not os.path.exists("\(go)"):
                if time.time() > deadline: raise SystemExit("no go file after 60 s")
                time.sleep(0.01)
            push.send_json({"dtype": "float32", "shape": [3, \(Self.features)]}, zmq.SNDMORE); push.send(rows[5:].tobytes())
            out = []
            for _ in range(2):
                header, payload = pull.recv_multipart()
                out.append(len(payload) // (4 * \(Self.features)))
            print(json.dumps(out))
            """, name: "client", in: scratch.url)
        // The 5 rows are accepted (and wait) before the reload.
        _ = try waitFor("5 rows accepted", timeout: .seconds(20)) { () -> Bool? in
            daemon.send(SIGUSR1)
            Thread.sleep(forTimeInterval: 0.2)
            return daemon.logLines.contains { $0.contains("counts=\"messages_accepted=1 rows_accepted=5 ") } ? true : nil
        }
        let refused = try reload(daemon, to: "checkpoint: {path: state}\n" + Self.config(size: 4), file: config)
        #expect(refused.message == "reload failed", "\(daemon.log)")
        #expect(
            daemon.logLines.contains(
                "level=error msg=\"\(config): checkpoint: changing the checkpoint section (other than its path), or adding or removing it, needs a restart; a reload changes pipelines (stages, batching, mode, endpoints; added and removed) but not this\""
            ),
            "\(daemon.log)")
        try Self.config(size: 4).write(toFile: config, atomically: true, encoding: .utf8)
        daemon.send(SIGHUP)
        _ = try waitFor("the second reload", timeout: .seconds(30)) {
            daemon.logLines.contains { $0.hasPrefix("level=info msg=\"reload succeeded\"") } ? true : nil
        }
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        #expect(try client.waitForExit(timeout: .seconds(60)) == 0, "\(client.stdout)\(client.stderr)")
        #expect(daemon.terminate() == 0)
        #expect(finalCounts(daemon)?.hasPrefix("messages_accepted=2 rows_accepted=8 ") == true, "\(daemon.log)")
        #expect(finalCounts(daemon)?.contains(" batches=2 rows_published=8 partial_batches=0 ") == true, "\(daemon.log)")
        #expect(client.stdout == "[4, 4]\n")
    }

    /// Six reloads (batch.size 8 → 4 → 3 → 8 …, momentum too) while a producer streams 5-row messages
    /// and a consumer reads: every row sent is accepted, published and received once, batch numbers
    /// run without a gap or repeat, and the counts never reset.
    @Test func reloadsUnderLoadLoseAndRepeatNoRow() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(size: 8), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        let stop = scratch.path("stop"), stopped = scratch.path("stopped"), done = scratch.path("done")
        // Stops sending (and says so in `stopped`) before the daemon stops, then reads what the
        // daemon published until `done`; ends after 120 s in any case. The PUSH never reconnects;
        // the PULL must (it reads the last batches after the daemon exits, and without reconnection
        // libzmq drops what it has queued but not read once the daemon disconnects).
        let client = try PythonScript.start(
            """
            import zmq, os, time
            c = zmq.Context()
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 2000); push.setsockopt(zmq.RECONNECT_IVL, -1)
            push.connect("\(daemon.inputEndpoint)")
            pull = c.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 200); pull.connect("\(daemon.outputEndpoint)")
            deadline = time.time() + 120
            rng = np.random.default_rng(5)
            sent = received = 0
            batches = []
            def receive():
                global received
                while True:
                    try: header, payload = pull.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again: return
                    batches.append(json.loads(header)["batch"]); received += len(payload) // (4 * \(Self.features))
            while not os.path.exists("\(stop)") and time.time() < deadline:
                push.send_json({"dtype": "float32", "shape": [5, \(Self.features)]}, zmq.SNDMORE)
                push.send(rng.normal(size=(5, \(Self.features))).astype('<f4').tobytes())
                sent += 5
                receive()
            open("\(stopped)", "w").close()
            while time.time() < deadline:
                try: header, payload = pull.recv_multipart()
                except zmq.Again:
                    if os.path.exists("\(done)"): break
                    continue
                batches.append(json.loads(header)["batch"]); received += len(payload) // (4 * \(Self.features))
            print(json.dumps({"sent": sent, "received": received, "in_order": batches == list(range(len(batches))), "batches": len(batches)}))
            """, name: "client", in: scratch.url)
        let sizes = [4, 3, 8, 4, 3, 8]
        for (index, size) in sizes.enumerated() {
            Thread.sleep(forTimeInterval: 0.2)
            try Self.config(size: size, momentum: index % 2 == 0 ? 0.5 : 0.9).write(toFile: config, atomically: true, encoding: .utf8)
            daemon.send(SIGHUP)
            _ = try waitFor("reload \(index + 1)", timeout: .seconds(30)) {
                daemon.logLines.filter { $0.hasPrefix("level=info msg=\"reload succeeded\"") }.count == index + 1 ? true : nil
            }
        }
        _ = FileManager.default.createFile(atPath: stop, contents: nil)
        _ = try waitFor("the client to stop sending", timeout: .seconds(30)) { FileManager.default.fileExists(atPath: stopped) ? true : nil }
        Thread.sleep(forTimeInterval: 1)
        #expect(daemon.terminate() == 0)
        _ = FileManager.default.createFile(atPath: done, contents: nil)
        #expect(try client.waitForExit(timeout: .seconds(60)) == 0, "\(client.stderr)")
        let output = client.stdout
        let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        let sent = try #require(result["sent"] as? Int)
        #expect(sent >= 1000, "the producer should have streamed through the reloads: \(result)")
        #expect(result["received"] as? Int == sent, "\(result)")
        #expect(result["in_order"] as? Bool == true, "\(result)")
        #expect(daemon.logLines.filter { $0.hasPrefix("level=error") }.isEmpty, "\(daemon.log)")
        let counts = try #require(finalCounts(daemon), "\(daemon.log)")
        #expect(counts.hasPrefix("messages_accepted=\(sent / 5) rows_accepted=\(sent) "), "\(counts)")
        #expect(counts.contains(" batches=\(result["batches"] as? Int ?? -1) rows_published=\(sent) "), "\(counts)")
        #expect(counts.contains(" batches_dropped=0 batches_failed=0"), "\(counts)")
    }
}
