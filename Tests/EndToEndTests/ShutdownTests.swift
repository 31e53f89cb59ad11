import Foundation
import NormTesting
import Testing

/// Shutdown under faults, through the built binary: a stalled consumer, a second signal, counts
/// that say what libzmq could not confirm, and intake that stops at SIGTERM.
@Suite(.serialized) struct ShutdownTests {
    /// One message is one batch of 16 × 64 Float32 (4 KiB): the output's queues (HWM 1 on both
    /// sides) hold a couple of batches, the TCP connection's kernel buffers many more — those are
    /// handed over, and delivered after the daemon has gone.
    static let rows = 16, features = 64, inputHighWaterMark = 10

    static func stalledConfig(_ scratch: ScratchDirectory, shutdownTimeout: String, checkpoint: Bool = false) -> String {
        var pipeline = PipelineYAML(name: "p", features: features, batch: "{size: \(rows), min_rows: 2, max_latency: 10s}")
        pipeline.inputs = ["{endpoint: \"ipc://\(scratch.path("in.sock"))\", socket: pull, bind: true, high_water_mark: \(inputHighWaterMark)}"]
        // TCP: what reached the kernel is still delivered after the daemon closed (over ipc:// a
        // consumer stalled at its RCVHWM loses it, and the counts then call every batch unconfirmed).
        pipeline.output =
            "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: push, bind: true, high_water_mark: 1, shutdown_timeout: \(shutdownTimeout)}"
        pipeline.stages = ["{type: batch_norm}"]
        let checkpointSection = checkpoint ? "checkpoint: {path: state, every_batches: 100000, every_seconds: 3600}\n" : ""
        return checkpointSection + PipelineYAML.config(pipeline)
    }

    /// A consumer that connected and stopped reading, a producer that keeps 5 000 messages coming,
    /// and a daemon whose output is full: returns the daemon and the counts once intake has stalled.
    /// Both clients outlive the daemon (the stall is the fault under test; the consumer reads what
    /// reached it after the daemon exits), so neither reconnects, and both give up on their own.
    struct Stalled {
        let daemon: DaemonProcess
        let consumer: Subprocess
        let producer: Subprocess
        let goFile: String
        let countsBeforeStop: CountsSummary
    }

    static func stall(_ scratch: ScratchDirectory, shutdownTimeout: String, checkpoint: Bool = false) throws -> Stalled {
        let daemon = try DaemonProcess.started(
            config: stalledConfig(scratch, shutdownTimeout: shutdownTimeout, checkpoint: checkpoint),
            scratch: scratch)
        let goFile = scratch.path("consumer.go")
        let python = { (script: String, arguments: [String]) in
            try Subprocess(
                script, executable: URL(fileURLWithPath: "/usr/bin/env"),
                arguments: ["python3", PythonClient.scriptDirectory.appendingPathComponent("\(script).py").path] + arguments,
                in: scratch.url)
        }
        let consumer = try python("stalled_consumer", [try daemon.outputEndpoint(of: "p"), goFile, "3"])
        let producer = try python("flood_producer", ["ipc://\(scratch.path("in.sock"))", "5000", "\(rows)", "\(features)"])
        try daemon.waitForCounts(of: "p", timeout: .seconds(30), "a published batch") { ($0.int("batches") ?? 0) >= 1 }
        // Stalled: the accepted count stops moving (the loop waits on the full output).
        var previous = -1
        let counts = try waitFor("intake to stall", timeout: .seconds(30)) { () -> CountsSummary? in
            Thread.sleep(forTimeInterval: 1)
            let line = daemon.logLines.last { $0.message == "counts" && $0["pipeline"] == "p" }
            let counts = CountsSummary(text: line?["counts"] ?? "")
            defer { previous = counts.int("messages_accepted") ?? -1 }
            return counts.int("messages_accepted") == previous ? counts : nil
        }
        return Stalled(daemon: daemon, consumer: consumer, producer: producer, goFile: goFile, countsBeforeStop: counts)
    }

    /// Lets the stalled consumer read what reached it and returns the batch numbers it got.
    static func drainConsumer(_ stalled: Stalled) throws -> [Int] {
        FileManager.default.createFile(atPath: stalled.goFile, contents: nil)
        let result = try PythonClient.result(of: stalled.consumer, timeout: .seconds(60))
        return try #require(result["batches"] as? [Int])
    }

    @Test func aStalledPushConsumerCannotHoldShutdownOpenAndTheCountsSayWhatIsUnconfirmed() throws {
        let scratch = try ScratchDirectory()
        let stalled = try Self.stall(scratch, shutdownTimeout: "1s")
        let before = stalled.countsBeforeStop
        stalled.daemon.send(SIGTERM)
        // Today's main waited shutdown_timeout per queued batch: 5 000 × 1 s.
        #expect(try stalled.daemon.waitForExit(timeout: .seconds(60)) == 0)
        stalled.producer.stop()

        let final = try stalled.daemon.finalCounts(of: "p")
        // Intake stopped: besides the message whose batch was waiting, at most the input's RCVHWM.
        let acceptedAfterStop = try #require(final.int("messages_accepted")) - (before.int("messages_accepted") ?? 0)
        #expect(acceptedAfterStop <= Self.inputHighWaterMark + 1, "accepted \(acceptedAfterStop) messages after SIGTERM: \(final)")
        #expect(final["unsent_at_shutdown"] == "unknown", "\(final)")
        let unconfirmed = try #require(final.int("handed_over_unconfirmed"), "\(final)")
        let published = try #require(final.int("batches"))
        #expect(published > unconfirmed, "most batches reached the kernel before the stall; only the queue's are unconfirmed: \(final)")
        #expect((final.int("batches_dropped") ?? 0) >= 1, "the batch that waited for the full output is counted as dropped: \(final)")

        let received = try Self.drainConsumer(stalled)
        #expect(received == Array(received.sorted()) && Set(received).count == received.count, "\(received)")
        #expect(received.count <= published, "received \(received.count), counted \(published) published: \(final)")
        #expect(
            received.count >= published - unconfirmed,
            "received \(received.count) of \(published) published, but only \(unconfirmed) were reported unconfirmed: \(final)")
    }

    @Test func aSecondSigtermSkipsTheOutputWaitButStillWritesTheFinalCheckpoint() throws {
        let scratch = try ScratchDirectory()
        let stalled = try Self.stall(scratch, shutdownTimeout: "120s", checkpoint: true)
        stalled.daemon.send(SIGTERM)
        _ = try stalled.daemon.waitForLine("the stop being acknowledged") { $0.message?.hasPrefix("stopping:") == true }
        Thread.sleep(forTimeInterval: 1)
        try #require(stalled.daemon.isRunning, "the first SIGTERM waits up to shutdown_timeout (120 s) for the stalled output")
        stalled.daemon.send(SIGINT)
        #expect(try stalled.daemon.waitForExit(timeout: .seconds(30)) == 0)
        stalled.producer.stop()
        stalled.consumer.stop()

        let lines = stalled.daemon.logLines
        let written = try #require(lines.last { $0.message == "final checkpoint" }, "\(stalled.daemon.stderr)")
        #expect(written["generation"] == "1" && written["file"] == scratch.path("state") + "/normd-state-00000001.json")
        #expect(lines.last?.message == "normd stopped" && lines.last?["final_checkpoint"] == written["file"], "\(lines.last as Any)")
        #expect(try stalled.daemon.finalCounts(of: "p")["unsent_at_shutdown"] == "unknown")
        #expect(FileManager.default.fileExists(atPath: scratch.path("state/normd-state-00000001.json")))
    }

    @Test func aConsumerThatKeepsUpIsReportedDrained() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(
            config: PipelineYAML.config(PipelineYAML(batch: "{size: 8, min_rows: 2, max_latency: 50ms}")),
            scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(40, features: 4), to: "rows.npy", in: scratch)
        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: 40, in: scratch)
        try Producer(
            endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile,
            messages: MessageSpec.tensors(sizes: [8, 8, 8, 8, 8], producer: "p")
        ).run(in: scratch)
        #expect(try consumer.messages().count == 5)
        daemon.send(SIGUSR1)
        let line = try daemon.waitForLine("SIGUSR1 without checkpoints") { $0.message == "no checkpoint configured; none written" }
        #expect(line.level == "notice" && line["signal"] == "SIGUSR1")
        #expect(try daemon.terminate() == 0)
        let final = try daemon.finalCounts(of: "sensors")
        #expect(final["unsent_at_shutdown"] == "0" && final["handed_over_unconfirmed"] == nil, "\(final)")
        #expect(final.int("batches") == 5)
    }
}
