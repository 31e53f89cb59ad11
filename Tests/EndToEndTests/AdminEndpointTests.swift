import Foundation
import NormTesting
import Testing

/// The admin server (issue 9 §1–§3, §7) against the built daemon: real HTTP (curl, Python urllib),
/// real pyzmq producers and consumers, real checkpoint files.
@Suite(.serialized) struct AdminEndpointTests {
    static let rows = 8, features = 3

    static func config(admin: String = "{listen: \"127.0.0.1:0\"}", checkpoint: Bool = true, output: String = "push") -> String {
        """
        admin: \(admin)
        \(checkpoint ? "checkpoint: {path: state, every_batches: 100000, every_seconds: 3600}" : "")
        pipelines:
          - name: p
            features: \(features)
            batch: {size: 8, max_latency: 10s}
            inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true, codec: tensor}]
            output: {endpoint: "tcp://127.0.0.1:*", socket: \(output), bind: true}
            stages: [{type: min_max}, {type: batch_norm, momentum: 0.9}]
        """
    }

    private func generations(_ scratch: ScratchDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: scratch.path("state")).filter { $0.hasPrefix("normd-state-") }.sorted()
    }

    private func object(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary, "not a JSON object: \(text)")
    }

    @Test func everyEndpointAnswersExactly() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonUnderTest(config: try scratch.write(Self.config(), to: "normd.yaml"), logDirectory: scratch.url)
        let http = try AdminHTTP(daemon)
        _ = try TensorClient.exchange(daemon, indices: 0..<3, rows: Self.rows, features: Self.features)

        let health = try http.get("/healthz"), ready = try http.get("/readyz")
        #expect(health.status == 200 && ready.status == 200)
        #expect(health.body == #"{"status":"ok"}"# && ready.body == #"{"status":"ready"}"#)
        #expect(health.contentType == "application/json")

        let pipelines = try #require(try http.get("/pipelines").json as? [NSDictionary])
        #expect(pipelines.count == 1)
        let summary = try #require(pipelines.first)
        #expect(
            Set(summary.allKeys.compactMap { $0 as? String }) == [
                "name", "mode", "stats_version", "batch_size", "features", "stages", "counts", "last_batch_at", "statistics_from",
            ])
        #expect(summary["name"] as? String == "p" && summary["mode"] as? String == "train")
        #expect(summary["statistics_from"] is NSNull, "a pipeline with its own statistics says null")
        #expect(summary["batch_size"] as? Int == 8 && summary["features"] as? Int == 3)
        #expect(summary["stages"] as? [String] == ["min_max", "batch_norm"])
        #expect(
            summary["counts"] as? NSDictionary == [
                "messages_accepted": 3, "rows_accepted": 24, "messages_rejected": [:], "rows_dropped": [:], "seq_gaps": 0,
                "messages_missed": 0, "seq_restarts": 0, "producers_evicted": 0, "connections_refused": 0, "connections_dropped": 0,
                "auth_failures": [:],
                "batches": 3, "rows_published": 24, "partial_batches": 0, "downgraded": 0, "batches_dropped": 0, "batches_failed": 0,
            ] as NSDictionary)
        let lastBatchAt = try #require(summary["last_batch_at"] as? String)
        #expect(lastBatchAt.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(lastBatchAt)")
        let statsVersion = try #require(summary["stats_version"] as? Int)

        // POST /checkpoint answers once the generation is durable: the file is there, and holds exactly
        // what /pipelines/p/statistics returns.
        // (The snapshots it asks for may have a generation of their own written first: it names its own.)
        let checkpoint = try http.post("/checkpoint")
        let generation = try #require(try object(checkpoint.body)["generation"] as? Int)
        let file = "normd-state-" + String(repeating: "0", count: 8 - "\(generation)".count) + "\(generation).json"
        #expect(checkpoint.status == 200 && checkpoint.body == #"{"file":"\#(file)","generation":\#(generation)}"#, "\(checkpoint)")
        #expect(try generations(scratch).last == file)
        let stateFile = try object(try String(contentsOfFile: scratch.path("state/\(file)"), encoding: .utf8))
        let saved = try #require(((stateFile["body"] as? NSDictionary)?["pipelines"] as? [NSDictionary])?.first)
        let statistics = try http.get("/pipelines/p/statistics")
        #expect(statistics.status == 200 && statistics.contentType == "application/json")
        #expect(try object(statistics.body) == saved)
        #expect((saved["stages"] as? [NSDictionary])?.map { $0["kind"] as? String } == ["min_max", "batch_norm"])

        // Errors: {"error": …} with the right status.
        let errors = [
            (try http.get("/pipelines/nope/statistics"), 404, #"{"error":"no pipeline named 'nope'"}"#),
            (try http.post("/pipelines/nope/mode", #"{"mode":"infer"}"#), 404, #"{"error":"no pipeline named 'nope'"}"#),
            (try http.post("/pipelines/p/mode", #"{"mode":"eval"}"#), 400, #"{"error":"\"mode\" must be \"train\" or \"infer\", got \"eval\""}"#),
            (
                try http.post("/pipelines/p/mode", "{mode"), 400,
                #"{"error":"body must be a JSON object {\"mode\": \"train\" | \"infer\"}: not valid JSON"}"#
            ),
            (
                try http.post("/pipelines/p/mode", "{}"), 400,
                #"{"error":"body must be a JSON object {\"mode\": \"train\" | \"infer\"}: missing \"mode\""}"#
            ),
            (try http.post("/pipelines/p/mode", String(repeating: " ", count: 5000)), 413, #"{"error":"request body above 4096 bytes"}"#),
            (try http.get("/nope"), 404, #"{"error":"no such endpoint: GET /nope"}"#),
        ]
        for (answer, status, body) in errors {
            #expect(answer.status == status && answer.body == body && answer.contentType == "application/json", "\(answer)")
        }

        // The mode switch: from_batch is the next batch's number; the next batch runs in infer.
        let switched = try http.post("/pipelines/p/mode", #"{"mode":"infer"}"#)
        #expect(switched.status == 200 && switched.body == #"{"from_batch":3,"mode":"infer","pipeline":"p"}"#)
        _ = try TensorClient.exchange(daemon, indices: 3..<4, rows: Self.rows, features: Self.features)
        let again = try http.post("/pipelines/p/mode", #"{"mode":"infer"}"#)
        #expect(again.status == 200 && again.body == #"{"from_batch":4,"mode":"infer","pipeline":"p"}"#)
        let after = try #require((try http.get("/pipelines").json as? [NSDictionary])?.first)
        #expect(after["mode"] as? String == "infer" && after["stats_version"] as? Int == statsVersion)
        let metrics = try http.metrics()
        #expect(metrics[#"normd_batches_published_total{pipeline="p",mode="train"}"#] == 3)
        #expect(metrics[#"normd_batches_published_total{pipeline="p",mode="infer"}"#] == 1)
        #expect(metrics[#"normd_stats_version{pipeline="p"}"#] == Double(statsVersion))
        #expect(metrics[#"normd_checkpoint_writes_total{result="success"}"#] ?? 0 >= 1)
        #expect(metrics[#"normd_checkpoint_writes_total{result="failure"}"#] == 0)
        #expect(metrics[#"normd_checkpoint_last_success_timestamp_seconds"#] ?? 0 > 1.7e9)
        #expect(metrics[#"normd_config_reloads_total{result="success"}"#] == 0 && metrics["normd_config_last_reload_successful"] == 1)
        let version = try Normd.run(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(metrics.keys.contains { $0.hasPrefix("normd_build_info{version=\"\(version)\",libzmq=\"4.") }, "\(version)")
        #expect(daemon.terminate() == 0)
        #expect(daemon.logLines.contains("level=notice msg=\"mode switched\" from_batch=3 mode=infer pipeline=p"), "\(daemon.log)")
    }

    @Test func aSwitchedModeSurvivesARestartUntilResetState() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(), to: "normd.yaml")
        let first = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(try AdminHTTP(first).post("/pipelines/p/mode", #"{"mode":"infer"}"#).body == #"{"from_batch":0,"mode":"infer","pipeline":"p"}"#)
        #expect(first.terminate() == 0)

        let second = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(
            second.logLines.contains(
                "level=notice msg=\"mode restored from the checkpoint (switched at run time; --reset-state returns to the configured mode)\" configured=train mode=infer pipeline=p"
            ),
            "\(second.log)")
        let http = try AdminHTTP(second)
        #expect((try http.get("/pipelines").json as? [NSDictionary])?.first?["mode"] as? String == "infer")
        #expect(try object(try http.get("/pipelines/p/statistics").body)["mode"] as? String == "infer")
        #expect(second.terminate() == 0)

        let reset = try DaemonUnderTest(config: config, arguments: ["--reset-state"], logDirectory: scratch.url)
        #expect((try AdminHTTP(reset).get("/pipelines").json as? [NSDictionary])?.first?["mode"] as? String == "train")
        #expect(!reset.log.contains("mode restored"))
        #expect(reset.terminate() == 0)
    }

    @Test func metricsEqualWhatWasSentAndCountRejectsByReason() throws {
        let scratch = try ScratchDirectory()
        // A pub output never blocks: no consumer is needed for the batches to count as published.
        let daemon = try DaemonUnderTest(
            config: try scratch.write(Self.config(checkpoint: false, output: "pub"), to: "normd.yaml"),
            logDirectory: scratch.url)
        let http = try AdminHTTP(daemon)
        // 5 good messages of 4 rows, then one of each bad kind; the script prints the bytes it sent.
        let sent = try PythonScript.run(
            """
            import zmq
            c = zmq.Context(); push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 5000); push.connect("\(daemon.inputEndpoint)")
            total = 0
            def send(frames):
                global total
                push.send_multipart(frames); total += sum(len(f) for f in frames)
            for i in range(5):
                rows = np.full((4, 3), float(i), dtype='<f4')
                send([json.dumps({"dtype": "float32", "shape": [4, 3]}).encode(), rows.tobytes()])
            send([json.dumps({"dtype": "float32", "shape": [2, 5]}).encode(), np.zeros((2, 5), '<f4').tobytes()])
            send([b"{not json", np.zeros((1, 3), '<f4').tobytes()])
            nan = np.zeros((3, 3), '<f4'); nan[1, 2] = np.nan
            send([json.dumps({"dtype": "float32", "shape": [3, 3]}).encode(), nan.tobytes()])
            push.close(); c.term()
            print(total)
            """)
        let bytes = try #require(Double(sent.trimmingCharacters(in: .whitespacesAndNewlines)))
        let p = #"pipeline="p""#, input = #"pipeline="p",input="0""#
        let metrics = try http.metrics { $0["normd_messages_received_total{\(input)}"] == 8 && $0["normd_pending_rows{\(p)}"] == 4 }
        #expect(metrics["normd_messages_received_total{\(input)}"] == 8)
        // Rows of decoded messages only: the NaN one's 3 count; the malformed one and the one of the
        // wrong width (the decoder refuses it before reading rows) have none.
        #expect(metrics["normd_rows_received_total{\(input)}"] == 23)
        #expect(metrics["normd_bytes_received_total{\(input)}"] == bytes)
        let rejected = Dictionary(
            uniqueKeysWithValues: metrics.filter { $0.key.hasPrefix("normd_messages_rejected_total{") }.map { ($0.key, $0.value) })
        var expected: [String: Double] = [:]
        for reason in [
            "frame_count", "malformed_header", "dtype", "shape", "wrong_width", "payload_size", "npy", "json",
            "producer_too_long", "oversize", "non_finite",
        ] {
            expected["normd_messages_rejected_total{\(input),reason=\"\(reason)\"}"] =
                ["wrong_width", "malformed_header", "non_finite"].contains(reason) ? 1 : 0
        }
        #expect(rejected == expected)
        #expect(metrics["normd_rows_dropped_total{\(p),reason=\"non_finite\"}"] == 0)
        #expect(metrics["normd_batches_published_total{\(p),mode=\"train\"}"] == 2)
        #expect(metrics["normd_batches_published_total{\(p),mode=\"infer\"}"] == 0)
        #expect(metrics["normd_rows_published_total{\(p)}"] == 16)
        #expect(metrics["normd_pending_rows{\(p)}"] == 4)
        #expect(metrics["normd_batch_process_seconds_count{\(p)}"] == 2)
        #expect(metrics["normd_batch_latency_seconds_count{\(p)}"] == 2)
        #expect(metrics["normd_batches_partial_total{\(p)}"] == 0)
        #expect(metrics["normd_output_blocked_seconds_total{\(p)}"] != nil)
        // accepted = received − rejected, as the counts line says.
        #expect(daemon.terminate() == 0)
        #expect(daemon.log.contains("messages_accepted=5 rows_accepted=20 messages_rejected={malformed_header: 1, non_finite: 1, wrong_width: 1}"))
    }

    @Test func aModeSwitchUnderLoadFlipsAtFromBatchLosesNothingAndFreezesTheStatistics() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonUnderTest(config: try scratch.write(Self.config(checkpoint: false), to: "normd.yaml"), logDirectory: scratch.url)
        let http = try AdminHTTP(daemon)
        let total = 600
        // A paced producer, a consumer keeping every header, and two switches through urllib while
        // batches flow: infer after 100 batches, train again after 300.
        let output = try PythonScript.run(
            """
            import threading, time, urllib.request, zmq
            c = zmq.Context()
            headers = []
            def consume():
                pull = c.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 20000); pull.connect("\(daemon.outputEndpoint)")
                for _ in range(\(total)):
                    headers.append(json.loads(pull.recv_multipart()[0]))
            def produce():
                push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 5000); push.connect("\(daemon.inputEndpoint)")
                rng = np.random.default_rng(7)
                for i in range(\(total)):
                    push.send_json({"dtype": "float32", "shape": [8, 3]}, zmq.SNDMORE)
                    push.send((rng.normal(size=(8, 3)) * 3 + 1).astype('<f4'))
                    time.sleep(0.005)
                push.close()
            def switch(mode):
                request = urllib.request.Request("\(http.base)/pipelines/p/mode", data=json.dumps({"mode": mode}).encode(), method="POST",
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, json.loads(answer.read())
            consumer = threading.Thread(target=consume); consumer.start()
            producer = threading.Thread(target=produce); producer.start()
            while len(headers) < 100: time.sleep(0.001)
            to_infer = switch("infer")
            while len(headers) < 300: time.sleep(0.001)
            to_train = switch("train")
            producer.join(); consumer.join()
            print(json.dumps({"infer": to_infer, "train": to_train,
                              "headers": [[h["batch"], h["mode"], h["stats_version"]] for h in headers]}))
            """)
        let result = try object(output)
        let toInfer = try #require(result["infer"] as? [Any]), toTrain = try #require(result["train"] as? [Any])
        #expect(toInfer[0] as? Int == 200 && toTrain[0] as? Int == 200)
        let a = try #require((toInfer[1] as? NSDictionary)?["from_batch"] as? Int)
        let b = try #require((toTrain[1] as? NSDictionary)?["from_batch"] as? Int)
        #expect((toInfer[1] as? NSDictionary) == ["pipeline": "p", "mode": "infer", "from_batch": a] as NSDictionary)
        let headers = try #require(result["headers"] as? [[Any]])
        let batches = headers.map { $0[0] as? Int }, modes = headers.map { $0[1] as? String }, versions = headers.map { $0[2] as? Int }
        #expect(batches == Array(0..<total), "every batch arrives, numbered without a gap")
        try #require(100 <= a && a < b && b < total, "the switches happened under load: from_batch \(a), \(b)")
        #expect(modes == (0..<total).map { $0 < a || $0 >= b ? "train" : "infer" }, "modes flip exactly at from_batch \(a) and \(b)")
        #expect(Set(versions[a..<b]) == [versions[a - 1]], "statistics frozen in infer mode")
        #expect(versions[b] != versions[a - 1], "training resumes at \(b)")
        #expect(daemon.terminate() == 0)
    }

    @Test func readyzGoesFrom503To200WhileTheCheckpointIsRestored() throws {
        let scratch = try ScratchDirectory()
        // Two batch_norm stages of 50 000 features: a checkpoint of 200 000 numbers takes a while
        // to restore (seconds, in a debug build), during which the admin server already answers.
        let wide = """
            admin: {listen: "127.0.0.1:PORT"}
            checkpoint: {path: state, every_batches: 100000, every_seconds: 3600}
            pipelines:
              - name: p
                features: 50000
                batch: {size: 2}
                inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true}]
                output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
                stages: [\(Array(repeating: "{type: batch_norm}", count: 2).joined(separator: ", "))]
            """
        let port = try PythonScript.run("import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let config = try scratch.write(wide.replacingOccurrences(of: "PORT", with: port), to: "normd.yaml")
        let first = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(first.terminate() == 0) // writes the first generation: fresh statistics

        let observed = scratch.path("readyz.json")
        let poller = try PythonScript.start(
            """
            import time, urllib.request, urllib.error
            seen = []
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:\(port)/readyz", timeout=5) as answer:
                        seen.append([answer.status, answer.read().decode()])
                except urllib.error.HTTPError as error:
                    seen.append([error.code, error.read().decode()])
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.002); continue
                if seen[-1][0] == 200: break
                time.sleep(0.005)
            open("\(observed)", "w").write(json.dumps(seen))
            """, name: "poller", in: scratch.url)
        let second = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(try poller.waitForExit(timeout: .seconds(150)) == 0, "\(poller.stderr)")
        #expect(second.terminate() == 0)
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: observed))) as? [[Any]])
        let distinct = seen.reduce(into: [[String]]()) { list, answer in
            let entry = ["\(answer[0])", answer[1] as? String ?? ""]
            if list.last != entry { list.append(entry) }
        }
        // Restored, then bound: the state in between may be too short to be seen.
        #expect(
            distinct.first == [
                "503", #"{"reasons":["statistics not restored yet","pipeline 'p': sockets not bound or connected yet"],"status":"not_ready"}"#,
            ],
            "\(distinct)")
        #expect(
            distinct.dropFirst().dropLast().allSatisfy {
                $0 == ["503", #"{"reasons":["pipeline 'p': sockets not bound or connected yet"],"status":"not_ready"}"#]
            },
            "\(distinct)")
        #expect(distinct.last == ["200", #"{"status":"ready"}"#], "\(distinct)")
    }

    @Test func healthAndReadinessAre503WhileShuttingDown() throws {
        let scratch = try ScratchDirectory()
        // No consumer: the full batch blocks the PUSH output, so the shutdown waits shutdown_timeout.
        let config = Self.config(checkpoint: false).replacingOccurrences(
            of: "output: {endpoint: \"tcp://127.0.0.1:*\", socket: push, bind: true}",
            with: "output: {endpoint: \"tcp://127.0.0.1:*\", socket: push, bind: true, shutdown_timeout: 10s}")
        #expect(config != Self.config(checkpoint: false))
        let daemon = try DaemonUnderTest(config: try scratch.write(config, to: "normd.yaml"), logDirectory: scratch.url)
        let http = try AdminHTTP(daemon)
        _ = try PythonScript.run(
            """
            import zmq
            c = zmq.Context(); push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 5000); push.connect("\(daemon.inputEndpoint)")
            push.send_json({"dtype": "float32", "shape": [8, 3]}, zmq.SNDMORE); push.send(np.ones((8, 3), '<f4'))
            push.close(); c.term()
            """)
        #expect(try http.get("/healthz").body == #"{"status":"ok"}"#)
        daemon.send(SIGTERM)
        let deadline = ContinuousClock.now + .seconds(5)
        var health = try http.get("/healthz")
        while health.status == 200 && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            health = try http.get("/healthz")
        }
        #expect(health.status == 503 && health.body == #"{"reasons":["shutting down"],"status":"unhealthy"}"#, "\(health)")
        let ready = try http.get("/readyz")
        #expect(ready.status == 503 && ready.body == #"{"reasons":["shutting down"],"status":"not_ready"}"#, "\(ready)")
        #expect(daemon.waitForExit() == 0)
    }

    @Test func controlFalseRefusesThePostsAndNoCheckpointIs409() throws {
        let scratch = try ScratchDirectory()
        let closed = try DaemonUnderTest(
            config: try scratch.write(Self.config(admin: "{listen: \"127.0.0.1:0\", control: false}"), to: "closed.yaml"),
            logDirectory: scratch.url)
        let http = try AdminHTTP(closed)
        for answer in [try http.post("/checkpoint"), try http.post("/pipelines/p/mode", #"{"mode":"infer"}"#), try http.post("/reload")] {
            #expect(answer.status == 403 && answer.body == #"{"error":"control endpoints are disabled (admin.control: false)"}"#)
        }
        #expect((try http.get("/pipelines").json as? [NSDictionary])?.first?["mode"] as? String == "train")
        #expect(try http.get("/metrics").status == 200)
        #expect(closed.terminate() == 0)

        let unsaved = try DaemonUnderTest(config: try scratch.write(Self.config(checkpoint: false), to: "unsaved.yaml"), logDirectory: scratch.url)
        let refused = try AdminHTTP(unsaved).post("/checkpoint")
        #expect(refused.status == 409 && refused.body == #"{"error":"no checkpoint: section is configured"}"#)
        #expect(unsaved.terminate() == 0)
    }

    /// `POST /reload` is SIGHUP's reload: an invalid file is 422 with the located problems and changes
    /// nothing; a valid one is 200 naming the stages kept; both are counted in the reload metrics.
    @Test func postReloadAppliesOrRefusesTheFileAndCountsIt() throws {
        let scratch = try ScratchDirectory()
        let original = Self.config(checkpoint: false)
        let path = try scratch.write(original, to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: path, logDirectory: scratch.url)
        let http = try AdminHTTP(daemon)
        _ = try TensorClient.exchange(daemon, indices: 0..<2, rows: Self.rows, features: Self.features)

        _ = try scratch.write(original.replacingOccurrences(of: "momentum: 0.9", with: "momentum: 7"), to: "normd.yaml")
        let refused = try http.post("/reload")
        #expect(refused.status == 422 && refused.contentType == "application/json")
        #expect(refused.body == #"{"result":"failure","problems":["\#(path):9:60: pipelines[0].stages[1].momentum: must be in [0, 1], got 7"]}"#)

        // (A changed admin section re-binds the server: ReloadAdminTests.)
        _ = try scratch.write(
            original.replacingOccurrences(of: "momentum: 0.9", with: "momentum: 0.5")
                .replacingOccurrences(of: "size: 8,", with: "size: 4,"), to: "normd.yaml")
        let applied = try http.post("/reload")
        #expect(applied.status == 200)
        #expect(
            applied.body
                == #"{"result":"success","kept":[{"kind":"min_max","pipeline":"p","stage":0},{"kind":"batch_norm","pipeline":"p","stage":1}],"reset":[],"added":[],"removed":[]}"#
        )
        let summary = try #require((try http.get("/pipelines").json as? [NSDictionary])?.first)
        #expect(summary["batch_size"] as? Int == 4)
        let metrics = try http.metrics()
        #expect(
            metrics["normd_config_reloads_total{result=\"success\"}"] == 1 && metrics["normd_config_reloads_total{result=\"failure\"}"] == 1
                && metrics["normd_config_last_reload_successful"] == 1, "\(metrics.filter { $0.key.hasPrefix("normd_config") })")
        // A mode switched through the endpoint survives a reload that leaves the configured mode alone.
        let switched = try http.post("/pipelines/p/mode", #"{"mode":"infer"}"#)
        #expect(switched.status == 200)
        _ = try scratch.write(
            original.replacingOccurrences(of: "momentum: 0.9", with: "momentum: 0.6")
                .replacingOccurrences(of: "size: 8,", with: "size: 4,"), to: "normd.yaml")
        #expect(try http.post("/reload").status == 200)
        #expect((try http.get("/pipelines").json as? [NSDictionary])?.first?["mode"] as? String == "infer")
        // The new batch size is live: a message of 8 rows now comes out as batches of 4.
        let frozen = try http.get("/pipelines/p/statistics").body
        let after = try TensorClient.exchange(daemon, indices: 2..<3, rows: Self.rows, features: Self.features)
        #expect(after.map(\.count) == [4 * Self.features])
        // Still infer in the engine, not only in the answer: these batches left the statistics alone.
        _ = try http.metrics(until: { $0["normd_rows_published_total{pipeline=\"p\"}"] == Double(3 * Self.rows) })
        #expect(try http.get("/pipelines/p/statistics").body == frozen)
        #expect(daemon.terminate() == 0)
    }

    @Test func anAdminAddressInUseIsExit69() throws {
        let scratch = try ScratchDirectory()
        let holder = try DaemonUnderTest(config: try scratch.write(Self.config(checkpoint: false), to: "a.yaml"), logDirectory: scratch.url)
        let address = String(try AdminHTTP(holder).base.dropFirst("http://".count))
        let second = try DaemonUnderTest(
            config: try scratch.write(Self.config(admin: "{listen: \"\(address)\"}", checkpoint: false), to: "b.yaml"),
            logDirectory: scratch.url)
        #expect(second.waitForExit() == 69)
        #expect(second.logLines.contains { $0.hasPrefix("level=critical msg=\"cannot start: admin: cannot listen on \(address): ") }, "\(second.log)")
        #expect(!second.log.contains("input bound"), "nothing was bound before the admin server")
        #expect(holder.terminate() == 0)
    }

    @Test func withoutAnAdminSectionNothingListens() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonUnderTest(config: try scratch.write(PipelineYAML.config(PipelineYAML()), to: "normd.yaml"), logDirectory: scratch.url)
        #expect(!daemon.log.contains("admin"))
        #expect(daemon.terminate() == 0)
    }

    /// Docs/grafana/normd.json: every metric name its expressions use is one the daemon exports, every
    /// label an expression aggregates `by` is one of those metrics' labels (or `le` of a histogram), and
    /// every `normd_sync_*` family has a panel. The scraped daemon has a plain pipeline and a sync
    /// member (a group of one), so the sync series are exported too (they exist only with `sync:`).
    @Test func everyMetricTheDashboardUsesIsExported() throws {
        let dashboard = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Docs/grafana/normd.json")
        var expressions: [String] = []
        func collect(_ value: Any) {
            if let object = value as? [String: Any] {
                for (key, inner) in object { if key == "expr", let text = inner as? String { expressions.append(text) } else { collect(inner) } }
            } else if let list = value as? [Any] {
                list.forEach(collect)
            }
        }
        collect(try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard)))
        let names = { (text: String) in Set(text.matches(of: /(?:normd|process)_[a-z0-9_]+/).map { String($0.output) }) }
        let used = expressions.reduce(into: Set<String>()) { $0.formUnion(names($1)) }
        #expect(used.count >= 35, "\(used.sorted())")

        let scratch = try ScratchDirectory()
        var sync = PipelineYAML(name: "s")
        sync.extra = ["sync: {group: g, rank: 0, members: [\"\(SyncGroupTests.endpoints(1)[0])\"]}"]
        let daemon = try DaemonUnderTest(
            config: try scratch.write(Self.config() + "\n" + sync.text + "\n", to: "normd.yaml"), logDirectory: scratch.url)
        let body = try AdminHTTP(daemon).get("/metrics").body
        #expect(daemon.terminate() == 0)
        var exported = Set<String>()
        var histograms = Set<String>()
        var labels: [String: Set<String>] = [:]
        for line in body.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                let name = String(parts[2])
                exported.insert(name)
                if parts[3] == "histogram" {
                    histograms.insert(name)
                    exported.formUnion(["_bucket", "_sum", "_count"].map { name + $0 })
                }
            } else if !line.hasPrefix("#"), let brace = line.firstIndex(of: "{") {
                let keys = line[brace...].matches(of: /([a-z_]+)="/).map { String($0.output.1) }
                labels[String(line[..<brace]), default: []].formUnion(keys)
            }
        }
        #expect(used.subtracting(exported).isEmpty, "used by the dashboard but not exported: \(used.subtracting(exported).sorted())")
        let syncFamilies = exported.filter { name in
            name.hasPrefix("normd_sync_") && !["_bucket", "_sum", "_count"].contains { name.hasSuffix($0) }
        }
        #expect(syncFamilies.count == 7, "\(syncFamilies.sorted())")
        for family in syncFamilies {
            let series = histograms.contains(family) ? family + "_bucket" : family
            #expect(used.contains(series), "no panel shows \(series)")
        }
        for expression in expressions {
            let metrics = names(expression)
            let available = metrics.reduce(into: Set<String>()) { $0.formUnion(labels[$1] ?? []) }.union(
                metrics.contains { $0.hasSuffix("_bucket") } ? ["le"] : [])
            for clause in expression.matches(of: /by \(([a-z_, ]+)\)/) {
                for label in clause.output.1.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    #expect(available.contains(label), "'\(expression)' aggregates by '\(label)', which \(metrics.sorted()) do not have")
                }
            }
        }
    }
}
