import Foundation
import NormCore
import NormTesting
import NpyFormat
import StageKit
import Testing

/// The host services of `normd_stage.h` (a config reader, offered through the optional symbol
/// `normd_stage_plugin_host`), the JSON a plugin's `create` receives, and `normd run`'s log of the
/// libraries it loaded.
@Suite struct HostServicesTests {
    /// `high: .inf` reaches the plugin as +infinity through the reader (the JSON says null).
    @Test func theClampExampleReadsItsConfigurationThroughTheHost() throws {
        let chain = try StageBuilder.chain(
            "[{type: clamp, low: -1, high: .inf, factor: 2}, {type: clamp, low: -3, high: 3, mode: zero}]",
            features: 3)
        var batch = FeatureBatch(rowsOf: [[-3, 0.25, 1e6], [1, -0.1, 1.25]], features: 3)
        try chain.process(&batch, mode: .train)
        // First stage: x·2 clamped to [-1, ∞); second: 0 outside [-3, 3].
        #expect(batch.values == [-1, 0.5, 0, 2, -0.2, 2.5])
    }

    /// The plugin's refusals are located at the value it names; the reader gives `.nan` and `.inf` as
    /// they were written, a quoted number as a string, `~` as null.
    @Test func refusalsFromReaderValuesAreLocatedAtTheValue() throws {
        try BuildProducts.require(BuildProducts.clamp)
        let scratch = try ScratchDirectory()
        let result = try Normd.validate(
            """
            plugins: [\(BuildProducts.clamp)]
            pipelines:
              - name: p
                features: 3
                stages:
                  - type: clamp
                    low: .nan
                  - {type: clamp, low: 2, high: 1}
                  - {type: clamp, mode: 3}
                  - {type: clamp, mode: mirror}
                  - {type: clamp, hihg: 1}
                  - {type: clamp, factor: -.Inf}
                  - {type: clamp, enabled: ~}
                  - {type: clamp, low: "1"}
                  - {type: clamp, low: -.inf, high: .inf, enabled: off}

            """, in: scratch)
        #expect(
            result.stderrLines == [
                "cfg.yaml:7:14: pipelines[0].stages[0].low: must not be NaN",
                "cfg.yaml:8:37: pipelines[0].stages[1].high: must be >= low (2), got 1",
                "cfg.yaml:9:29: pipelines[0].stages[2].mode: expected clamp or zero",
                "cfg.yaml:10:29: pipelines[0].stages[3].mode: must be clamp or zero, got 'mirror'",
                "cfg.yaml:11:29: pipelines[0].stages[4].hihg: unknown key 'hihg'; expected one of: low, high, factor, mode, enabled",
                "cfg.yaml:12:31: pipelines[0].stages[5].factor: must be a finite number, got -inf",
                "cfg.yaml:13:32: pipelines[0].stages[6].enabled: expected true or false",
                "cfg.yaml:14:28: pipelines[0].stages[7].low: expected a number",
                "cfg.yaml: 8 errors",
            ])
        #expect(result.status == 78)
    }

    /// A plugin that echoes its JSON: the conversion rules the header documents, value by value.
    @Test func theJSONACreateReceivesFollowsTheDocumentedRules() throws {
        let scratch = try ScratchDirectory()
        let library = try TestPlugin.build(Self.echoSource, named: "echo", in: scratch)
        let result = try Normd.validate(
            """
            plugins: [\(library)]
            pipelines:
              - name: p
                features: 2
                stages:
                  - type: echo
                    inf: .inf
                    minus_inf: -.Inf
                    nan: .NaN
                    huge: 1e400
                    tilde: ~
                    empty:
                    yes_: yes
                    off_: Off
                    hex: 0x1F
                    octal: 0o17
                    octal_11: 017
                    binary: 0b101
                    underscores: 1_000
                    base60: 1:30
                    big: 123456789012345678901234567890
                    int64_max: 9223372036854775807
                    float: 1e3
                    negative_zero: -0.0
                    date: 2020-01-01
                    quoted: "12"
                    text: "tab\\there \\"quoted\\" \\u0001"
                    nested: [1, 2.5, {x: .inf}]
                    columns: [0]

            """, in: scratch)
        #expect(
            result.stderrLines == [
                #"cfg.yaml:6:9: pipelines[0].stages[0]: {"inf":null,"minus_inf":null,"nan":null,"huge":null,"tilde":null,"empty":null,"#
                    + #""yes_":true,"off_":false,"hex":31,"octal":15,"octal_11":15,"binary":5,"underscores":1000,"base60":90,"#
                    + #""big":1.2345678901234568e+29,"int64_max":9223372036854775807,"float":1000.0,"negative_zero":-0.0,"#
                    + #""date":"2020-01-01","quoted":"12","text":"tab\there \"quoted\" \u0001","nested":[1,2.5,{"x":null}]}"#,
                "cfg.yaml: 1 error",
            ])
    }

    /// The reader answers only for the buffer of a `create` in progress: the same pointer kept and
    /// used in `process` reads as "not a config" with no keys — never as freed memory.
    @Test func theReaderAnswersOnlyDuringCreate() throws {
        let scratch = try ScratchDirectory()
        let library = try TestPlugin.build(Self.latePointerSource, named: "late", in: scratch)
        try scratch.write(
            """
            plugins: [\(library)]
            pipelines:
              - name: p
                features: 3
                stages: [{type: late, a: 1}]

            """, to: "cfg.yaml")
        try Data(Npy.encode(FeatureBatch(rowsOf: [[0, 0, 0]], features: 3))).write(to: URL(fileURLWithPath: scratch.path("in.npy")))
        let apply = try Normd.run(["apply", "--config", "cfg.yaml", "--mode", "infer", "--input", "in.npy", "--output", "out.npy"], in: scratch)
        try #require(apply.status == 0, "\(apply.stderr)")
        // [status in create, key count after create, status after create]
        let output = try Data(contentsOf: URL(fileURLWithPath: scratch.path("out.npy")))
        #expect(try output.withUnsafeBytes { try Npy.decode($0) }.values == [0, 0, 4])
    }

    /// One `msg="plugin loaded"` line per library: the file, its kinds, whether it took the services.
    @Test func normdRunLogsEveryLoadedLibrary() throws {
        try BuildProducts.require(BuildProducts.clamp)
        try BuildProducts.require(BuildProducts.robustScale)
        let scratch = try ScratchDirectory()
        try scratch.write(
            """
            plugins:
              - \(BuildProducts.clamp)
              - \(BuildProducts.robustScale)
            pipelines:
              - name: p
                features: 2
                inputs: [{endpoint: "tcp://127.0.0.1:*"}]
                output: {endpoint: "tcp://127.0.0.1:*"}
                stages: [{type: clamp, high: .inf}, {type: robust_scale}]

            """, to: "cfg.yaml")
        let daemon = try DaemonProcess.started(configFile: scratch.path("cfg.yaml"), scratch: scratch)
        let status = try daemon.terminate()
        let text = daemon.stderr
        #expect(status == 0, "\(text)")
        let loaded = text.split(separator: "\n").filter { $0.contains("msg=\"plugin loaded\"") }.map { line in
            String(line[line.range(of: "level=")!.lowerBound...])
        }
        #expect(
            loaded == [
                "level=info msg=\"plugin loaded\" host_services=yes kinds=clamp path=\(BuildProducts.clamp) plugin=\(BuildProducts.clamp) plugin_name=\"clamp example\"",
                "level=info msg=\"plugin loaded\" host_services=no kinds=robust_scale path=\(BuildProducts.robustScale) plugin=\(BuildProducts.robustScale) plugin_name=\"robust_scale example (C)\"",
            ], "\(text)")
    }

    /// `create` refuses with the JSON it received as its message.
    static let echoSource = TestPlugin.source(
        kind: "echo",
        create: """
            (void)features; (void)batch_size; (void)instance;
            normd_stage_error_set(error, NULL, "%s", json);
            return NORMD_STAGE_ERR_CONFIG;
            """)

    /// Keeps `config_json` past `create` and reads it again in `process`, writing the statuses into
    /// the batch: the reader in `create`, then key count and get_double after `create` returned.
    static let latePointerSource = TestPlugin.source(
        kind: "late",
        prelude: """
            static const normd_host_services *host;
            void normd_stage_plugin_host(const normd_host_services *h) { host = h; }
            typedef struct { const char *kept; int in_create; } late;
            """,
        create: """
            (void)features; (void)batch_size; (void)error;
            late *stage = malloc(sizeof *stage);
            double a = 0;
            stage->kept = json;
            stage->in_create = host->config_get_double(json, "a", &a) == NORMD_CONFIG_OK && a == 1 ? 0 : 99;
            *instance = stage;
            return NORMD_STAGE_OK;
            """,
        process: """
            (void)rows; (void)features; (void)train;
            late *stage = instance;
            double a = 0;
            values[0] = (float)stage->in_create;
            values[1] = (float)host->config_key_count(stage->kept);
            values[2] = (float)host->config_get_double(stage->kept, "a", &a);
            """)
}
