import BuiltinStages
import NormConfig
import StageKit
import Testing

/// `checkpoint:`: defaults, path resolution, and every rejection worded and located exactly.
@Suite struct CheckpointConfigurationTests {
    private static let pipelines = "pipelines:\n  - {name: p, features: 2, stages: [{type: min_max}]}\n"

    private func validate(_ checkpoint: String, file: String = "conf/test.yaml") -> ConfigurationValidation {
        NormdConfiguration.validate(yaml: checkpoint + "\n" + Self.pipelines, file: file, registry: BuiltinStages.registry())
    }

    @Test func defaultsAndARelativePathResolvedAgainstTheConfigDirectory() throws {
        let configuration = try #require(validate("checkpoint: {path: state/}").configuration)
        #expect(
            configuration.checkpoint
                == CheckpointConfiguration(
                    directory: "conf/state", everyBatches: 100, every: .seconds(30), keep: 3, onMismatch: .refuse))
    }

    @Test func everyKeySet() throws {
        let configuration = try #require(
            validate(
                "checkpoint: {path: /var/lib/normd, every_batches: 0, every_seconds: 2m, keep: 1, on_mismatch: reset}"
            ).configuration)
        #expect(
            configuration.checkpoint
                == CheckpointConfiguration(
                    directory: "/var/lib/normd", everyBatches: 0, every: .seconds(120), keep: 1, onMismatch: .reset))
        #expect(try #require(validate("checkpoint: {path: s, every_seconds: 0}").configuration).checkpoint?.every == nil)
    }

    @Test func withoutTheSectionThereAreNoCheckpoints() throws {
        #expect(try #require(validate("").configuration).checkpoint == nil)
    }

    @Test func everyProblemIsReportedLocated() {
        let yaml = """
            checkpoint:
              every_batches: -1
              every_seconds: soon
              keep: 0
              on_mismatch: ignore
              evrey_batches: 3
            """
        #expect(
            validate(yaml).issues.map(\.description) == [
                "conf/test.yaml:2:3: checkpoint: missing 'path' (the directory for checkpoint files, relative to this file's directory)",
                "conf/test.yaml:2:18: checkpoint.every_batches: must be an integer >= 0 (0 disables the trigger), got -1",
                "conf/test.yaml:3:18: checkpoint.every_seconds: expected a number of seconds or a duration like \"30s\", \"5m\", got a string \"soon\"",
                "conf/test.yaml:4:9: checkpoint.keep: must be an integer >= 1, got 0",
                "conf/test.yaml:5:16: checkpoint.on_mismatch: must be one of 'refuse', 'reset', got \"ignore\"",
                "conf/test.yaml:6:3: checkpoint.evrey_batches: unknown key 'evrey_batches'; did you mean 'every_batches'?",
            ])
    }

    @Test func bothTriggersOffIsRefused() {
        #expect(
            validate("checkpoint: {path: s, every_batches: 0, every_seconds: 0}").issues.map(\.description) == [
                "conf/test.yaml:1:13: checkpoint: every_batches and every_seconds are both 0; enable at least one (checkpoints would otherwise be written only at shutdown)"
            ])
    }

    @Test func wrongTypes() {
        #expect(
            validate("checkpoint: {path: [a], every_seconds: -3}").issues.map(\.description) == [
                "conf/test.yaml:1:20: checkpoint.path: expected a string, got a list [\"a\"]",
                "conf/test.yaml:1:40: checkpoint.every_seconds: must be >= 0 (0 disables the trigger), got -3",
            ])
        #expect(
            validate("checkpoint: state/").issues.map(\.description) == [
                "conf/test.yaml:1:13: checkpoint: expected a mapping, got a string \"state/\""
            ])
    }
}
