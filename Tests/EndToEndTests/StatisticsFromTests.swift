import Foundation
import NormTesting
import Testing

/// Evaluation pipelines (`statistics_from: NAME`, issue 9 §5), driven through the built binary,
/// pyzmq and curl: the evaluation stream is normalized with the training pipeline's live statistics
/// — exactly what `normd apply --mode infer` gives with those statistics — and never changes them.
@Suite(.serialized) struct StatisticsFromTests {
    static let features = 3

    static func stages(virtualBatch: Int? = nil) -> String {
        """
            stages:
              - type: min_max
              - type: batch_norm
                momentum: 0.5
                epsilon: 0.001\(virtualBatch.map { "\n        virtual_batch_size: \($0)" } ?? "")
        """
    }

    static func config(evalMode: String = "infer", source: String = "train", evalVirtualBatch: Int? = nil) -> String {
        """
        checkpoint: {path: state, every_batches: 1000, every_seconds: 3600}
        admin: {listen: "127.0.0.1:0"}
        pipelines:
          - name: train
            features: \(features)
            batch: {size: 8, max_latency: 10s}
            inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true, codec: tensor}]
            output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
        \(stages())
          - name: eval
            statistics_from: \(source)
            mode: \(evalMode)
            features: \(features)
            batch: {size: 8, max_latency: 10s}
            inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true, codec: tensor}]
            output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
        \(stages(virtualBatch: evalVirtualBatch))
        """
    }

    /// One evaluation batch: the rows sent (also saved as `npy` for `normd apply`) and what came back.
    struct Evaluated {
        var header: [String: Any]
        var values: [Float]
        var statsVersion: Int? { header["stats_version"] as? Int }
    }

    /// Sends eval batch `index` (8 rows, other values than the training batches) and reads its output.
    static func evaluate(input: String, output: String, index: Int, savingTo npy: String) throws -> Evaluated {
        let script = """
            import zmq
            \(TensorClient.batchFunction)
            rows = (batch(\(index), 8, \(features)) * 0.7 + 0.3).astype('<f4')
            np.save("\(npy)", rows)
            c = zmq.Context()
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 1000); push.connect("\(input)")
            pull = c.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 10000); pull.connect("\(output)")
            push.send_json({"dtype": "float32", "shape": [8, \(features)]}, zmq.SNDMORE)
            push.send(rows)
            header, payload = pull.recv_multipart()
            print(json.dumps({"header": json.loads(header), "values": np.frombuffer(payload, "<f4").tolist()}))
            """
        let text = try PythonScript.run(script)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "client said: \(text)")
        return Evaluated(
            header: try #require(object["header"] as? [String: Any]),
            values: try #require(object["values"] as? [Double]).map(Float.init))
    }

    /// `normd apply --mode infer` of `npy` with the training pipeline's statistics in checkpoint `file`.
    static func applied(config: String, state: String, npy: String, in scratch: ScratchDirectory) throws -> [Float] {
        let out = scratch.path("applied-\(UUID().uuidString).npy")
        let result = try Normd.run([
            "apply", "--config", config, "--pipeline", "train", "--mode", "infer",
            "--state", state, "--input", npy, "--output", out,
        ])
        try #require(result.status == 0, "\(result.stderr)")
        return try NpyFixture.readFloat32(out).values
    }

    static func statsVersion(of pipeline: String, _ admin: AdminHTTP) throws -> Int? {
        let list = try #require(try admin.get("/pipelines").json as? [[String: Any]])
        return list.first { $0["name"] as? String == pipeline }?["stats_version"] as? Int
    }

    /// The evaluation output equals `normd apply --mode infer` with the training statistics at the
    /// version its header names, before and after the training pipeline moves on; the training
    /// statistics are unchanged by the evaluation rows; the evaluation pipeline has no checkpoint
    /// record and refuses a mode switch (409).
    @Test func evaluationOutputEqualsApplyInferWithTheTrainingStatistics() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: Self.config(), scratch: scratch)
        let admin = try AdminHTTP(daemon)
        let train = try daemon.endpoints(of: "train"), eval = try daemon.endpoints(of: "eval")
        let trainIn = try #require(train.inputs[0]), evalIn = try #require(eval.inputs[0])

        for round in 0..<2 {
            _ = try TensorClient.exchange(
                input: trainIn, output: try #require(train.output), indices: (round * 3)..<(round * 3 + 3),
                rows: 8, features: Self.features)
            let version = try #require(try Self.statsVersion(of: "train", admin))
            let npy = scratch.path("eval-\(round).npy")
            let first = try Self.evaluate(input: evalIn, output: try #require(eval.output), index: 100 + round, savingTo: npy)
            #expect(first.statsVersion == version, "the header carries the training pipeline's stats_version")
            #expect(first.header["mode"] as? String == "infer")
            #expect(first.header["pipeline"] as? String == "eval")
            // A second evaluation batch: the evaluation rows changed no statistic.
            let second = try Self.evaluate(input: evalIn, output: try #require(eval.output), index: 100 + round, savingTo: npy)
            #expect(second.values == first.values && second.statsVersion == version)
            #expect(try Self.statsVersion(of: "train", admin) == version)

            let written = try admin.post("/checkpoint")
            #expect(written.status == 200, "\(written.body)")
            let file = try #require((written.json as? [String: Any])?["file"] as? String)
            let expected = try Self.applied(config: daemon.configPath, state: scratch.path("state/\(file)"), npy: npy, in: scratch)
            #expect(first.values == expected, "round \(round): eval output must equal apply --mode infer bit for bit")
        }
        let conflict = try admin.post("/pipelines/eval/mode", #"{"mode":"train"}"#)
        #expect(conflict.status == 409)
        #expect(conflict.body == #"{"error":"pipeline 'eval' takes its statistics from 'train' (statistics_from) and always runs in infer mode"}"#)
        let list = try #require(try admin.get("/pipelines").json as? [[String: Any]])
        #expect(list.map { $0["name"] as? String } == ["train", "eval"])
        #expect(list.last?["mode"] as? String == "infer")
        #expect(list.last?["statistics_from"] as? String == "train")
        #expect(list.first?["statistics_from"] is NSNull)
        #expect(list.last?["stats_version"] as? Int == list.first?["stats_version"] as? Int)
        let metrics = try admin.metrics()
        #expect(metrics[#"normd_batches_published_total{pipeline="eval",mode="infer"}"#] == 4, "\(metrics.keys.sorted())")
        #expect(try daemon.terminate() == 0)
        #expect(try daemon.finalCounts(of: "eval").text.hasPrefix("messages_accepted=4 rows_accepted=32 "))

        let export = scratch.path("export.json")
        let exported = try Normd.run(["state", "export", scratch.path("state"), "--format", "json", "--output", export])
        try #require(exported.status == 0, "\(exported.stderr)")
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: export))) as? [String: Any]).keys
        #expect(keys.contains("train/1_batch_norm/moving_mean"))
        #expect(!keys.contains { $0.hasPrefix("eval/") }, "an evaluation pipeline has no checkpoint of its own: \(keys.sorted())")
    }

    /// `normd validate` refuses each wrong `statistics_from`, located at the key (or at `mode`).
    @Test(arguments: [
        (
            Self.config(evalMode: "train"),
            "16:11: pipelines[1].mode: must be infer in a pipeline with statistics_from (it reads 'train''s statistics and never changes them)"
        ),
        (Self.config(source: "nope"), "15:22: pipelines[1].statistics_from: no pipeline named 'nope' (pipelines it can follow: train)"),
        (
            Self.config(source: "eval"),
            "15:22: pipelines[1].statistics_from: names this pipeline itself; statistics_from names the training pipeline whose statistics this one uses"
        ),
        (
            Self.config(evalVirtualBatch: 4),
            "15:22: pipelines[1].statistics_from: cannot use the statistics of 'train': stages[1] (batch_norm) has another fingerprint: virtual_batch_size 4 vs none"
        ),
    ])
    func invalidStatisticsFromIsRefusedLocated(config: String, message: String) throws {
        let scratch = try ScratchDirectory()
        let file = try scratch.write(config, to: "normd.yaml")
        let result = try Normd.run(["validate", "--config", file])
        #expect(result.status == 78)
        #expect(result.stderrLines == ["\(file):\(message)", "\(file): 1 error"], "\(result.stderr)")
    }
}
