import Foundation
import NormCore
import NormTesting
import StageKit
import Testing

/// Both example plugins in the daemon: `normd run` loads them from `plugins:`, normalizes batches a
/// pyzmq + NumPy producer sends, and SIGTERM flushes and exits 0.
@Suite struct PluginDaemonTests {
    static let stages = "[{type: log1p, offset: 1}, {type: robust_scale, step: 0.1}]"

    @Test func normalizesBatchesFromAPythonProducer() throws {
        try BuildProducts.require(BuildProducts.normd.path)
        let scratch = try ScratchDirectory()
        try scratch.write(
            """
            plugins:
              - \(BuildProducts.log1p)
              - \(BuildProducts.robustScale)
            pipelines:
              - name: p
                features: 3
                batch: {size: 4, min_rows: 2, max_latency: 20ms}
                inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true}]
                output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
                stages: \(Self.stages)

            """, to: "cfg.yaml")
        let daemon = try DaemonProcess.started(configFile: scratch.path("cfg.yaml"), scratch: scratch)
        let input = try daemon.inputEndpoint(of: "p"), output = try daemon.outputEndpoint(of: "p")
        var data = SampleData(features: 3, transform: { $0 * 40 })
        let rows = data.batch(rows: 8)
        // The producer sends 8 rows as one message and reads frames until it has 8 rows back.
        let script = """
            import json, sys, zmq, numpy as np
            ctx = zmq.Context()
            push = ctx.socket(zmq.PUSH); push.connect("\(input)")
            pull = ctx.socket(zmq.PULL); pull.connect("\(output)"); pull.RCVTIMEO = 10000
            a = np.array(\(rows.values), dtype=np.float32).reshape(8, 3)
            push.send_json({"dtype": "float32", "shape": [8, 3]}, zmq.SNDMORE); push.send(a)
            got = []
            while sum(len(r) for r in got) < 8:
                header, payload = pull.recv_multipart()
                h = json.loads(header)
                got.append(np.frombuffer(payload, "<f4").reshape(h["shape"]).tolist())
            print(json.dumps(got))
            push.close(0); pull.close(0); ctx.term()
            """
        let frames = try python(script)

        let status = try daemon.terminate() // SIGTERM, as a supervisor stops it
        let logText = daemon.stderr
        #expect(status == 0, "\(logText)")
        #expect(logText.contains("msg=\"normd stopped\""), "\(logText)")

        // The same split through an in-process chain gives the same numbers.
        let chain = try StageBuilder.chain(Self.stages, features: 3, batchSize: 4)
        var offset = 0
        for frame in frames {
            var batch = FeatureBatch(rows: frame.count, features: 3, values: Array(rows.values[(offset * 3)..<((offset + frame.count) * 3)]))
            try chain.process(&batch, mode: .train)
            #expect(frame.flatMap { $0 }.map(Float.init) == batch.values)
            offset += frame.count
        }
        #expect(offset == 8)
    }

    /// Runs a python3 script (pyzmq and NumPy required) and decodes its JSON stdout as frames of rows.
    private func python(_ script: String) throws -> [[[Double]]] {
        try JSONDecoder().decode([[[Double]]].self, from: PythonScript.standardOutput(of: script))
    }
}
