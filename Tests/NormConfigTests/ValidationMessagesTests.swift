import BuiltinStages
import NormConfig
import StageKit
import Testing

/// Validation collects every problem of a file, each located and worded exactly.
@Suite struct ValidationMessagesTests {
    private func messages(_ yaml: String) -> [String] {
        NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry()).issues.map(\.description)
    }

    /// `type:` with no value was accepted by `validate` (no message at all) while the chain could
    /// not be built from it, so `normd run` failed later on a file `validate` called ok (found by
    /// the config fuzz target). A stage that is not a mapping was already refused; it stays so.
    @Test func aStageWithoutATypeValueOrNotAMappingIsRefused() {
        let yaml = """
            pipelines:
              - name: p
                features: 4
                stages:
                  - type:
                    columns: "-4:"
                  - min_max
            """
        #expect(
            messages(yaml) == [
                "test.yaml:5:14: pipelines[0].stages[0].type: expected a stage type (one of: batch_norm, batch_renorm, min_max, standard_scale), got null",
                "test.yaml:7:9: pipelines[0].stages[1]: expected a mapping of keys to values, got a string",
            ])
    }

    @Test func everyProblemIsReportedAtOnce() {
        let yaml = """
            pipelines:
              - name: sensors
                features: 4
                batch:
                  size: 8
                  min_rows: 0
                  max_latency: -5ms
                stages:
                  - type: batch_norm
                    momentun: 0.9
                    gamma: [1, 2]
              - name: sensors
                features: 0
                batch: {size: 16, min_rows: 32, max_latency: soon}
                stages:
                  - type: min_max
              - name: "bad name!"
                stages:
                  - type: min_max
            pipeline: []
            """
        #expect(
            messages(yaml) == [
                "test.yaml:6:17: pipelines[0].batch.min_rows: must be an integer >= 1, got 0",
                "test.yaml:7:20: pipelines[0].batch.max_latency: must be > 0, got \"-5ms\"",
                "test.yaml:10:9: pipelines[0].stages[0].momentun: unknown key 'momentun'; did you mean 'momentum'? (convention: keras uses tf_keras' names)",
                "test.yaml:11:16: pipelines[0].stages[0].gamma: expected one value per feature (4), got a list of 2",
                "test.yaml:12:11: pipelines[1].name: duplicate pipeline name 'sensors', already used by pipelines[0] (line 2)",
                "test.yaml:13:15: pipelines[1].features: must be an integer > 0, got 0",
                "test.yaml:14:33: pipelines[1].batch.min_rows: must be <= batch.size (16), got 32",
                "test.yaml:14:50: pipelines[1].batch.max_latency: expected a duration like \"50ms\", \"2s\", \"500us\" or a number of seconds, got a string \"soon\"",
                "test.yaml:17:5: pipelines[2].features: missing; the number of features per row (an integer > 0) is required",
                "test.yaml:17:11: pipelines[2].name: must be non-empty and use only letters, digits, '_', '.' and '-', got \"bad name!\"",
                "test.yaml:20:1: pipeline: unknown key 'pipeline'; did you mean 'pipelines'?",
            ])
    }

    /// `batch: {size: 1}`, a one-row inference pipeline, was refused with
    /// `batch.min_rows: must be <= batch.size (1), got nothing` although `min_rows` was never
    /// written: its default is now `min(2, size)`. A `min_rows` the user does write is still checked.
    @Test func aOneRowBatchDefaultsMinRowsToOne() throws {
        func pipeline(_ batch: String) -> String {
            "pipelines:\n  - name: p\n    features: 2\n    batch: \(batch)\n    stages: [{type: min_max}]\n"
        }
        let validation = NormdConfiguration.validate(
            yaml: pipeline("{size: 1}"), file: "test.yaml",
            registry: BuiltinStages.registry())
        #expect(validation.issues.map(\.description) == [])
        let configuration = try #require(validation.configuration)
        #expect(configuration.pipelines[0].batch == BatchConfiguration(size: 1, minRows: 1, maxLatency: .milliseconds(50)))
        #expect(BatchConfiguration(size: 1).minRows == 1)
        #expect(BatchConfiguration(size: 3).minRows == 2)
        #expect(
            messages(pipeline("{size: 1, min_rows: 2}")) == [
                "test.yaml:4:32: pipelines[0].batch.min_rows: must be <= batch.size (1), got 2"
            ])
    }

    @Test func aYAMLSyntaxErrorIsLocated() {
        #expect(
            messages("pipelines:\n  - name: a\n    features: [1\n") == [
                "test.yaml:4:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 3, column 15)"
            ])
    }

    @Test func missingPipelinesAndEmptyFiles() {
        #expect(messages("") == ["test.yaml:1:1: missing 'pipelines' (a list of pipelines)"])
        #expect(messages("pipelines: []\n") == ["test.yaml:1:12: pipelines: must list at least one pipeline"])
        #expect(messages("pipelines: {a: 1}\n") == ["test.yaml:1:12: pipelines: expected a list of pipelines, got a mapping"])
    }

    @Test func warningsAreKeptApartFromErrors() {
        let result = NormdConfiguration.validate(
            yaml: "pipelines:\n  - {name: a, features: 2, stages: [{type: batch_norm, momentum: 0.1}]}\n",
            file: "test.yaml", registry: BuiltinStages.registry())
        #expect(result.isValid)
        #expect(result.errors.isEmpty)
        #expect(result.warnings.count == 1)
    }

    @Test func aMissingFileIsNamed() {
        let result = NormdConfiguration.validate(file: "/nonexistent/normd.yaml", registry: BuiltinStages.registry())
        #expect(result.issues.map(\.description) == ["/nonexistent/normd.yaml: no such file"])
    }
}
