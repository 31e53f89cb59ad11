import Foundation
import NormTesting
import Testing

/// Issue 9 §7's untested case, made real: a pipeline thread that stops turning while the process
/// lives. A stage plugin compiled here blocks for good inside `process` when a row starts with 777
/// (a deadlocked or hung plugin); `/healthz` must turn 503 naming the pipeline, where it used to say ok.
@Suite struct StuckPipelineHealthTests {
    static let plugin = """
        #include "normd_stage.h"
        #include <stdlib.h>
        #include <unistd.h>
        static int create(const char *json, size_t features, size_t batch_size, void **instance, normd_stage_error *error) {
            (void)json; (void)features; (void)batch_size; (void)error;
            *instance = malloc(1);
            return NORMD_STAGE_OK;
        }
        static int process(void *instance, float *values, size_t rows, size_t features, int train, normd_stage_error *error) {
            (void)instance; (void)rows; (void)features; (void)train; (void)error;
            while (values[0] == 777.0f) sleep(1);  /* never returns: the hang under test */
            return NORMD_STAGE_OK;
        }
        static void save_state(const void *instance, const normd_state_writer *writer) { (void)instance; (void)writer; }
        static int load_state(void *instance, const normd_state_reader *reader, uint32_t version, normd_stage_error *error) {
            (void)instance; (void)reader; (void)version; (void)error;
            return NORMD_STAGE_OK;
        }
        static void destroy(void *instance) { free(instance); }
        static normd_stage_vtable vtable = {
            .struct_size = sizeof(normd_stage_vtable), .state_version = 1, .kind = "hang_on_777", .summary = NULL,
            .create = create, .process = process, .save_state = save_state, .load_state = load_state, .destroy = destroy,
        };
        static const normd_stage_vtable *stages[] = { &vtable };
        static normd_stage_plugin plugin = {
            .abi_version = NORMD_STAGE_ABI_VERSION, .struct_size = sizeof(normd_stage_plugin),
            .plugin_name = "hang", .stage_count = 1, .stages = stages,
        };
        const normd_stage_plugin *normd_stage_plugin_entry(void) { return &plugin; }
        """

    @Test func aStageThatNeverReturnsMakesHealthz503NamingThePipeline() throws {
        let scratch = try ScratchDirectory()
        let source = try scratch.write(Self.plugin, to: "hang.c")
        let cc = try Subprocess(
            "cc", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "cc", "-shared", "-fPIC", "-I", Normd.repositoryRoot.appendingPathComponent("Sources/CStageABI/include").path,
                source, "-o", scratch.path("hang.so"),
            ], in: scratch.url)
        #expect(try cc.waitForExit(timeout: .seconds(60)) == 0)
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
