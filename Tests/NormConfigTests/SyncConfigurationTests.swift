import BuiltinStages
import NormConfig
import StageKit
import Testing

/// `sync:` is read per pipeline, every mistake a located message, and what cannot be synchronized
/// (ghost batches, run-time plugin stages) is refused at validate time.
@Suite struct SyncConfigurationTests {
    private func validate(stages: String = "[{type: batch_norm}]", _ syncLines: String) -> ConfigurationValidation {
        let yaml = "pipelines:\n  - name: p\n    features: 2\n    stages: \(stages)\n" + syncLines
        return NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry())
    }

    private func messages(stages: String = "[{type: batch_norm}]", _ syncLines: String) -> [String] {
        validate(stages: stages, syncLines).issues.map(\.description)
    }

    private let members = "      members: [\"tcp://127.0.0.1:5570\", \"tcp://127.0.0.1:5571\", \"ipc:///tmp/normd-sync-2\"]\n"

    @Test func aCompleteSectionIsResolved() throws {
        let result = validate("    sync:\n      group: sensors\n      rank: 2\n" + members + "      timeout: 1500ms\n")
        #expect(result.issues.isEmpty)
        let sync = try #require(result.configuration?.pipelines.first?.sync)
        #expect(
            sync
                == SyncConfiguration(
                    group: "sensors", rank: 2,
                    members: ["tcp://127.0.0.1:5570", "tcp://127.0.0.1:5571", "ipc:///tmp/normd-sync-2"],
                    timeout: .milliseconds(1500)))
    }

    @Test func theTimeoutDefaultsToTwoSeconds() throws {
        let result = validate("    sync:\n      group: g\n      rank: 0\n" + members)
        #expect(try #require(result.configuration?.pipelines.first?.sync).timeout == .seconds(2))
    }

    @Test func missingKeysAreNamed() {
        #expect(
            messages("    sync: {timeout: 1s}\n") == [
                "test.yaml:5:11: pipelines[0].sync.group: missing; the name every member of the sync group shares",
                "test.yaml:5:11: pipelines[0].sync.members: missing; a list of one endpoint per rank, e.g. [tcp://127.0.0.1:5570, tcp://127.0.0.1:5571]",
                "test.yaml:5:11: pipelines[0].sync.rank: missing; this member's index in members (0-based)",
            ])
    }

    @Test func theRankMustNameAMember() {
        #expect(
            messages("    sync:\n      group: g\n      rank: 3\n" + members) == [
                "test.yaml:7:13: pipelines[0].sync.rank: must be from 0 to 2 (one rank per members entry), got 3"
            ])
    }

    @Test func endpointsAreCheckedAndUnique() {
        let lines =
            "    sync:\n      group: g\n      rank: 0\n"
            + "      members: [\"tcp://127.0.0.1:5570\", \"tcp://127.0.0.1:*\", \"inproc://x\", \"tcp://127.0.0.1:5570\", 7]\n"
        #expect(
            messages(lines) == [
                "test.yaml:8:41: pipelines[0].sync.members[1]: a member's tcp endpoint needs a port 1-65535 (the other members connect to it), got \"tcp://127.0.0.1:*\"",
                "test.yaml:8:62: pipelines[0].sync.members[2]: must start with tcp:// or ipc:// (members are separate processes), got \"inproc://x\"",
                "test.yaml:8:76: pipelines[0].sync.members[3]: is members[0] again; every rank needs its own endpoint",
                "test.yaml:8:100: pipelines[0].sync.members[4]: expected an endpoint like \"tcp://127.0.0.1:5570\", got an integer 7",
            ])
    }

    @Test func membersAndTimeoutAreBounded() {
        let many = (0...256).map { "\"tcp://127.0.0.1:\(6000 + $0)\"" }.joined(separator: ", ")
        #expect(
            messages("    sync:\n      group: g\n      rank: 0\n      members: [\(many)]\n      timeout: 1h\n") == [
                "test.yaml:8:16: pipelines[0].sync.members: must list at most 256 members (Docs/LIMITS.md), got 257",
                "test.yaml:9:16: pipelines[0].sync.timeout: must be at most 600 seconds = 10m (Docs/LIMITS.md), got \"1h\"",
            ])
    }

    @Test func ghostBatchesAreRefusedAtTheirKey() {
        #expect(
            messages(
                stages: "[{type: min_max}, {type: batch_norm, virtual_batch_size: 4}]",
                "    sync:\n      group: g\n      rank: 0\n" + members) == [
                    "test.yaml:4:70: pipelines[0].stages[1].virtual_batch_size: cannot be used with sync: ghost batches are local to one member by design; remove it or remove sync:"
                ])
    }

    @Test func withoutSyncGhostBatchesStayValid() {
        #expect(messages(stages: "[{type: batch_norm, virtual_batch_size: 4}]", "").isEmpty)
    }
}
