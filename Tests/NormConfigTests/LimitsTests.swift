import BuiltinStages
import NormConfig
import StageKit
import Testing

/// The bounds of `ConfigLimits` at the level of single keys (the whole-file cases run against the
/// built binary in EndToEndTests/ConfigLimitsTests).
@Suite struct LimitsTests {
    private func messages(_ yaml: String) -> [String] {
        NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry()).issues.map(\.description)
    }

    /// Converting `1e300` s or `99999999999999999h` to a `Duration` trapped; now they parse to
    /// seconds and only representable ones become a `Duration`.
    @Test func hugeDurationsParseWithoutTrapping() {
        #expect(DurationText.seconds("99999999999999999h") == 99_999_999_999_999_999.0 * 3600)
        #expect(DurationText.parse("99999999999999999h") == nil)
        #expect(DurationText.parse("1e300") == nil)
        #expect(DurationText.parse("1e400") == nil)
        #expect(DurationText.parse("8e9") == .seconds(8_000_000_000))
        #expect(DurationText.parse("1h") == .seconds(3600))
    }

    @Test func durationsUpToTheirLimitAreAccepted() {
        #expect(
            messages(
                "pipelines:\n  - {name: p, features: 2, batch: {max_latency: 1h}, stages: [{type: min_max}]}\ncheckpoint: {path: s, every_seconds: 86400}\n"
            ) == [])
        #expect(
            messages("pipelines:\n  - {name: p, features: 2, batch: {max_latency: 3601}, stages: [{type: min_max}]}\n") == [
                "test.yaml:2:49: pipelines[0].batch.max_latency: must be at most 3600 seconds = 1h (Docs/LIMITS.md), got 3601"
            ])
    }

    /// `every_seconds: 1e-12` is positive: it must not round to 0 ns, which means "disabled".
    @Test func aPositiveDurationNeverRoundsToZero() throws {
        let yaml = "checkpoint: {path: s, every_seconds: 1e-12}\npipelines:\n  - {name: p, features: 2, stages: [{type: min_max}]}\n"
        let validation = NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry())
        #expect(try #require(validation.configuration).checkpoint?.every == .nanoseconds(1))
    }

    /// An invalid `batch.size` falls back to the default; that default is not then reported as
    /// too many batch bytes. A valid size that is too large for the width is, with the largest one.
    @Test func batchBytesAreReportedOnceAndOnlyForAValidSize() {
        #expect(
            messages("pipelines:\n  - {name: p, features: 1048576, batch: {size: 1e12}, stages: [{type: min_max}]}\n") == [
                "test.yaml:2:48: pipelines[0].batch.size: must be at most 1048576 (Docs/LIMITS.md), got 1e12"
            ])
        #expect(
            messages("pipelines:\n  - {name: p, features: 1048576, stages: [{type: min_max}]}\n") == [
                "test.yaml:2:25: pipelines[0].features: a batch of 256 rows × 1048576 features × 4 bytes is 1073741824 bytes, more than the limit of 268435456 bytes = 256 MiB (Docs/LIMITS.md); with 1048576 features batch.size can be at most 64"
            ])
    }

    /// Ports: 1–65535; `*` and `0` (any free port) only when binding; IPv6 and a connect source work.
    @Test(
        arguments: [
            ("tcp://127.0.0.1:5555", true, nil),
            ("tcp://[::1]:5555", false, nil),
            ("tcp://127.0.0.1:0", true, nil),
            ("tcp://127.0.0.1:*", true, nil),
            ("tcp://127.0.0.1:0;192.168.1.2:5555", false, nil),
            ("tcp://127.0.0.1:0", false, "the tcp port must be 1-65535 (a connecting socket needs the peer's port)"),
            ("tcp://127.0.0.1:65536", true, "the tcp port must be 1-65535, or * or 0 for any free port"),
            ("tcp://127.0.0.1:55x", true, "the tcp port must be 1-65535, or * or 0 for any free port"),
            ("tcp://localhost", false, "a tcp endpoint needs a port (tcp://host:port)"),
        ] as [(String, Bool, String?)])
    func tcpPorts(endpoint: String, bind: Bool, rule: String?) {
        let yaml =
            "pipelines:\n  - name: p\n    features: 2\n    stages: [{type: min_max}]\n"
            + "    inputs: [{endpoint: \"\(endpoint)\", bind: \(bind)}]\n    output: {endpoint: \"tcp://127.0.0.1:5556\"}\n"
        #expect(messages(yaml) == (rule.map { ["test.yaml:5:25: pipelines[0].inputs[0].endpoint: \($0), got \"\(endpoint)\""] } ?? []))
    }

    /// A per-feature list is refused by its length before any item is read (a huge list used to
    /// be converted whole first); the first bad item is no longer what is reported.
    @Test func aPerFeatureListOfTheWrongLengthIsRefusedBeforeItsItemsAreRead() {
        #expect(
            messages("pipelines:\n  - name: p\n    features: 4\n    stages: [{type: batch_norm, gamma: [x, 1, 2, 3, 4]}]\n") == [
                "test.yaml:4:40: pipelines[0].stages[0].gamma: expected one value per feature (4), got a list of 5"
            ])
    }

    /// Columns may not repeat, so a list longer than the row is refused whole, before its items.
    @Test func aColumnListLongerThanTheRowIsRefused() {
        #expect(
            messages("pipelines:\n  - name: p\n    features: 2\n    stages: [{type: min_max, columns: [0, 1, 5]}]\n") == [
                "test.yaml:4:39: pipelines[0].stages[0].columns: lists 3 entries, more than the 2 columns of a row"
            ])
    }

    /// A value quoted in a message is cut after 128 bytes, so a megabyte-long one cannot make a
    /// megabyte-long message.
    @Test func longValuesAreCutInMessages() {
        let long = String(repeating: "é", count: 1000)
        #expect(
            messages("pipelines:\n  - name: p\n    features: \"\(long)\"\n    stages: [{type: min_max}]\n") == [
                "test.yaml:3:15: pipelines[0].features: expected an integer, got a string \"\(String(repeating: "é", count: 63))…(2002 bytes)"
            ])
    }

    @Test func textOverFourMebibytesIsRefusedBeforeParsing() {
        let text = "pipelines: []\n#" + String(repeating: "x", count: 4 << 20)
        #expect(
            messages(text) == [
                "test.yaml:1:1: the file is larger than 4194304 bytes = 4 MiB, the limit for a configuration (Docs/LIMITS.md)"
            ])
    }

    /// Aliases within the node limit still work (the check counts, it does not forbid them).
    @Test func aliasesWithinTheLimitAreExpanded() throws {
        let yaml = "defaults: &bn {type: batch_norm, momentum: 0.9}\npipelines:\n  - {name: p, features: 2, stages: [*bn, *bn]}\n"
        #expect(
            messages(yaml) == ["test.yaml:1:1: defaults: unknown key 'defaults'; expected one of: pipelines, plugins, checkpoint, admin, security"])
    }

    /// A mapping key inside a sequence used as a key trapped in Yams' `Node.any` (it force-unwraps
    /// keys as strings; fuzz crasher `config/crashers/fuzz-sequence-key-holding-a-complex-key.yaml`).
    /// Complex keys are now written out in flow style, and refused like any unknown key.
    @Test func complexKeysAreNamedInTheMessageWithoutTrapping() {
        #expect(
            messages(".979es:\n? - ? - 0025979\n") == [
                "test.yaml:1:1: missing 'pipelines' (a list of pipelines)",
                "test.yaml:1:1: .979es: unknown key '.979es'; expected one of: pipelines, plugins, checkpoint, admin, security",
                "test.yaml:2:3: [{[0025979]: }]: unknown key '[{[0025979]: }]'; expected one of: pipelines, plugins, checkpoint, admin, security",
            ])
    }
}
