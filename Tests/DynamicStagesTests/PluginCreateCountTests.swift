import Foundation
import NormCore
import NormTesting
import NpyFormat
import Testing

/// The configuration is resolved once: a plugin's `create` runs once per stage per load, whichever
/// command loads it — `validate`, `stages --config`, `apply` and `run` (before, validation built every chain and threw
/// it away, and `apply` and `run` then built it again, so `create` ran twice per stage).
///
/// The plugin appends one line per `create` (with the width it was created for) to a file, so the
/// count is read from what the real library did, through the built `normd`.
@Suite struct PluginCreateCountTests {
    /// A plugin of kind `counted` that logs each `create` to `creates.log` in `scratch`.
    private func countingPlugin(in scratch: ScratchDirectory) throws -> (library: String, log: String) {
        let log = scratch.path("creates.log")
        let library = try TestPlugin.build(
            TestPlugin.source(
                kind: "counted",
                onCreate: """
                    FILE *log = fopen("\(log)", "a");
                    if (log) { fprintf(log, "create %zu\\n", features); fclose(log); }
                    """), named: "counted", in: scratch)
        return (library, log)
    }

    /// Two plugin stages of different widths (3 columns, then 2), so each line names its stage.
    private func configuration(plugin: String, daemon: Bool) -> String {
        let endpoints =
            daemon
            ? """

                inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true}]
                output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
            """ : ""
        return """
            plugins: [\(plugin)]
            pipelines:
              - name: p
                features: 3
                batch: {size: 4, min_rows: 2}\(endpoints)
                stages: [{type: counted}, {type: counted, columns: [0, 1]}]

            """
    }

    private func creates(_ log: String) -> [String] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// Runs `normd arguments` in a fresh directory holding the counting plugin, `cfg.yaml` (the
    /// two stages, no endpoints) and a 6-row `in.npy`; returns the result, the creates logged and the
    /// plugin's path.
    private func counted(_ arguments: [String]) throws -> (result: Normd.Result, creates: [String], library: String) {
        let scratch = try ScratchDirectory()
        let (library, log) = try countingPlugin(in: scratch)
        try scratch.write(configuration(plugin: library, daemon: false), to: "cfg.yaml")
        var data = SampleData(features: 3)
        try Data(Npy.encode(data.batch(rows: 6))).write(to: URL(fileURLWithPath: scratch.path("in.npy")))
        let result = try Normd.run(arguments, in: scratch)
        return (result, creates(log), library)
    }

    @Test func validateCreatesEachStageOnce() throws {
        let (result, creates, _) = try counted(["validate", "--config", "cfg.yaml"])
        #expect(result.stdout == "cfg.yaml: 1 pipeline, 2 stages: ok\n")
        #expect(result.status == 0)
        #expect(creates == ["create 3", "create 2"])
    }

    /// `stages --config` resolves the file like every other command (and lists the plugin's kind).
    @Test func stagesCreatesEachStageOnce() throws {
        let (result, creates, library) = try counted(["stages", "--config", "cfg.yaml"])
        #expect(result.stderr == "")
        #expect(result.status == 0)
        #expect(
            Array(result.stdoutLines.suffix(2)) == [
                "counted (plugin): run-time plugin stage from \(library)",
                "  parameters: unknown (read by the plugin itself)",
            ])
        #expect(creates == ["create 3", "create 2"])
    }

    @Test func applyCreatesEachStageOnce() throws {
        let (result, creates, _) = try counted([
            "apply", "--config", "cfg.yaml", "--input", "in.npy", "--output", "out.npy",
            "--state", "state.json",
        ])
        #expect(result.stderrLines == ["normd apply: pipeline 'p' (train): 6 rows in 2 batches, 0 downgraded to infer"])
        #expect(result.status == 0)
        #expect(creates == ["create 3", "create 2"])
    }

    @Test func runCreatesEachStageOnce() throws {
        let scratch = try ScratchDirectory()
        let (library, log) = try countingPlugin(in: scratch)
        try scratch.write(configuration(plugin: library, daemon: true), to: "cfg.yaml")
        let daemon = try DaemonProcess.started(configFile: scratch.path("cfg.yaml"), scratch: scratch)
        let status = try daemon.terminate()
        #expect(status == 0, "\(daemon.stderr)")
        #expect(creates(log) == ["create 3", "create 2"])
    }
}
