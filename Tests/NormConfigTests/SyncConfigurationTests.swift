import BuiltinStages
import Foundation
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
                "test.yaml:8:100: pipelines[0].sync.members[4]: expected an endpoint like \"tcp://127.0.0.1:5570\" or {endpoint, curve_server_key}, got an integer 7",
            ])
    }

    /// `{endpoint, curve_server_key}` entries: the key only means something with `security: curve:`
    /// (refused at its key without it), and an entry needs its endpoint and no other keys.
    @Test func memberEntriesWithAKeyNeedTheSecuritySection() throws {
        let key = FileManager.default.temporaryDirectory.appendingPathComponent("normd-sync-\(UUID().uuidString).key").path
        defer { try? FileManager.default.removeItem(atPath: key) }
        // A zcert public key file as pyzmq's create_certificates writes it (the key of the ZeroMQ RFC 32 example).
        try "metadata\ncurve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n".write(toFile: key, atomically: true, encoding: .utf8)
        let valid =
            "    sync:\n      group: g\n      rank: 0\n      members: [\"ipc:///tmp/a\", {endpoint: \"ipc:///tmp/b\", curve_server_key: \(key)}]\n"
        #expect(messages(valid) == ["test.yaml:8:78: pipelines[0].sync.members[1].curve_server_key: needs a 'security: curve:' section"])
        let malformed =
            "    sync:\n      group: g\n      rank: 0\n      members: [\"ipc:///tmp/a\", {port: 1}, {endpoint: \"ipc:///tmp/c\", curve: false}]\n"
        #expect(
            messages(malformed) == [
                "test.yaml:8:33: pipelines[0].sync.members[1]: missing 'endpoint'",
                "test.yaml:8:34: pipelines[0].sync.members[1].port: unknown key 'port'; expected one of: curve, curve_server_key, endpoint",
                "test.yaml:8:78: pipelines[0].sync.members[2].curve: a sync member always uses CURVE with 'security: curve:'",
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
