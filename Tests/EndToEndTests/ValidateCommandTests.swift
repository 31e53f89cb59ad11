import Foundation
import NormTesting
import Testing

/// `normd validate`: exit codes and the exact lines a user sees.
@Suite struct ValidateCommandTests {
    /// Several problems at once: out-of-range, bad duration, unknown key, duplicate name, wrong type,
    /// missing features, bad choice, unknown top-level key.
    static let brokenYAML = """
        pipelines:
          - name: sensors
            features: 4
            batch:
              size: 8
              min_rows: 9
              max_latency: soon
            stages:
              - type: batch_norm
                momentun: 0.9
                epsilon: -1
          - name: sensors
            features: "four"
            stages:
              - type: min_max
          - name: other
            mode: training
            stages: []
        extra: 1
        """

    /// A YAML syntax error (an unclosed flow sequence).
    static let syntaxErrorYAML = "pipelines:\n  - name: a\n    features: [1\n"

    /// A scratch directory holding `broken.yaml` and `syntax.yaml` (written at test time, so the
    /// test target has no resource files).
    static func fixtures() throws -> ScratchDirectory {
        let scratch = try ScratchDirectory()
        _ = try scratch.write(brokenYAML, to: "broken.yaml")
        _ = try scratch.write(syntaxErrorYAML, to: "syntax.yaml")
        return scratch
    }

    @Test func theDefaultConfigurationIsValid() throws {
        let result = try Normd.run(["validate", "--config", "Config/normd.yaml"], in: Normd.repositoryRoot)
        #expect(result.status == 0)
        #expect(result.stdout == "Config/normd.yaml: 1 pipeline, 2 stages: ok\n")
        #expect(result.stderr == "")
    }

    /// A one-row inference pipeline was refused for a `min_rows` its user never wrote.
    @Test func aOneRowBatchIsValid() throws {
        let scratch = try ScratchDirectory()
        _ = try scratch.write(
            """
            pipelines:
              - name: one
                features: 4
                mode: infer
                batch: {size: 1}
                stages: [{type: min_max}]
            """, to: "one.yaml")
        let result = try Normd.run(["validate", "--config", "one.yaml"], in: scratch.url)
        #expect(result.stderr == "")
        #expect(result.stdout == "one.yaml: 1 pipeline, 1 stage: ok\n")
        #expect(result.status == 0)
    }

    @Test func aBrokenFileListsEveryProblemInSourceOrder() throws {
        let fixtures = try Self.fixtures()
        let result = try Normd.run(["validate", "--config", "broken.yaml"], in: fixtures.url)
        #expect(result.status == 78)
        #expect(result.stdout == "")
        #expect(
            result.stderrLines == [
                "broken.yaml:6:17: pipelines[0].batch.min_rows: must be <= batch.size (8), got 9",
                "broken.yaml:7:20: pipelines[0].batch.max_latency: expected a duration like \"50ms\", \"2s\", \"500us\" or a number of seconds, got a string \"soon\"",
                "broken.yaml:10:9: pipelines[0].stages[0].momentun: unknown key 'momentun'; did you mean 'momentum'? (convention: keras uses tf_keras' names)",
                "broken.yaml:11:18: pipelines[0].stages[0].epsilon: must be > 0, got -1",
                "broken.yaml:12:11: pipelines[1].name: duplicate pipeline name 'sensors', already used by pipelines[0] (line 2)",
                "broken.yaml:13:15: pipelines[1].features: expected an integer, got a string \"four\"",
                "broken.yaml:16:5: pipelines[2].features: missing; the number of features per row (an integer > 0) is required",
                "broken.yaml:17:11: pipelines[2].mode: must be one of 'train', 'infer', got \"training\"",
                "broken.yaml:19:1: extra: unknown key 'extra'; expected one of: pipelines, plugins, checkpoint, admin, security",
                "broken.yaml: 9 errors",
            ])
    }

    @Test func aYAMLSyntaxErrorIsLocated() throws {
        let fixtures = try Self.fixtures()
        let result = try Normd.run(["validate", "--config", "syntax.yaml"], in: fixtures.url)
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "syntax.yaml:4:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 3, column 15)",
                "syntax.yaml: 1 error",
            ])
    }

    @Test func aMissingFileIsNamed() throws {
        let fixtures = try Self.fixtures()
        let result = try Normd.run(["validate", "--config", "no-such.yaml"], in: fixtures.url)
        #expect(result.status == 78)
        #expect(result.stderrLines == ["no-such.yaml: no such file", "no-such.yaml: 1 error"])
    }
}
