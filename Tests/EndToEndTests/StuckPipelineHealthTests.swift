import Foundation
import NormTesting
import Testing

/// Issue 9 §7's untested case, made real: a pipeline thread that stops turning while the process
/// lives. A stage plugin compiled here blocks for good inside `process` when a row starts with 777
/// (a deadlocked or hung plugin); `/healthz` must turn 503 naming the pipeline, where it used to say ok.
@Suite struct StuckPipelineHealthTests {
    /// Blocks for good inside `process` when the batch's first value is 777.
    static let plugin = TestPlugin.source(
        kind: "hang_on_777", prelude: "#include <unistd.h>",
        process: "(void)rows; (void)features; (void)train;\nwhile (values[0] == 777.0f) sleep(1);  /* never returns: the hang under test */")

    @Test func aStageThatNeverReturnsMakesHealthz503NamingThePipeline() throws {
        let scratch = try ScratchDirectory()
        try TestPlugin.build(Self.plugin, named: "hang", in: scratch)
        var pipeline = PipelineYAML()
        pipeline.stages = ["{type: hang_on_777}"]
        pipeline.output = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pub, bind: true, codec: tensor}"
        let daemon = try DaemonProcess.started(
            config: "admin: {listen: \"127.0.0.1:0\"}\nplugins: [hang.so]\n" + PipelineYAML.config(pipeline),
            scratch: scratch)
        let http = try AdminHTTP(daemon)
        #expect(try http.get("/healthz").body == #"{"status":"ok"}"#)
        _ = try PythonScript.run(
            """
            import zmq
            p = zmq.Context().socket(zmq.PUSH); p.setsockopt(zmq.LINGER, 5000); p.connect('\(try daemon.inputEndpoint(of: "sensors"))')
            p.send_json({'dtype': '<f4', 'shape': [16, 4]}, zmq.SNDMORE); p.send(np.full((16, 4), 777, '<f4'))
            p.close()
            """)
        // The thread turns at least every 100 ms while alive; stuck for more than 10 s is reported.
        let deadline = ContinuousClock.now + .seconds(40)
        var health = try http.get("/healthz")
        while health.status == 200 && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            health = try http.get("/healthz")
        }
        #expect(health.status == 503)
        #expect(
            health.body
                == #"{"reasons":["pipeline 'sensors': its thread has not come round its loop for more than 10 s (a stage that does not return?)"],"status":"unhealthy"}"#,
            "\(health.body)")
        // The process itself still answers: only that pipeline is stuck (SIGKILL ends it when the test releases it).
        #expect(try http.get("/readyz").status == 200)
    }
}
