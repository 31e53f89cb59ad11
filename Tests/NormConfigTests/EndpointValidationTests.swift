import BuiltinStages
import NormConfig
import StageKit
import Testing

/// `inputs:` and `output:` mistakes, each reported as one whole, located message.
@Suite struct EndpointValidationTests {
    /// Validates a one-pipeline file whose lines 5 and 6 are `endpointLines`.
    private func messages(_ endpointLines: String) -> [String] {
        let yaml = "pipelines:\n  - name: p\n    features: 2\n    stages: [{type: min_max}]\n" + endpointLines
        return NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry()).issues.map(\.description)
    }

    private let output = "    output: {endpoint: \"tcp://127.0.0.1:5556\"}\n"

    @Test func aMissingEndpointShowsAnExample() {
        #expect(
            messages("    inputs: [{socket: pull}]\n" + output) == [
                "test.yaml:5:14: pipelines[0].inputs[0].endpoint: missing; e.g. \"tcp://127.0.0.1:5555\" or \"ipc:///tmp/normd.sock\""
            ])
    }

    @Test func anUnknownTransportIsQuoted() {
        #expect(
            messages("    inputs: [{endpoint: \"udp://127.0.0.1:5555\"}]\n" + output) == [
                "test.yaml:5:25: pipelines[0].inputs[0].endpoint: must start with tcp://, ipc:// or inproc://, got \"udp://127.0.0.1:5555\""
            ])
    }

    @Test func aSubInputNeedsTopics() {
        #expect(
            messages("    inputs: [{endpoint: \"tcp://127.0.0.1:5555\", socket: sub}]\n" + output) == [
                "test.yaml:5:57: pipelines[0].inputs[0].socket: a sub input needs 'topics' (a list of prefixes; [\"\"] subscribes to everything)"
            ])
    }

    @Test func topicsOnAPullInputAreRefused() {
        #expect(
            messages("    inputs: [{endpoint: \"tcp://127.0.0.1:5555\", topics: [\"a\"]}]\n" + output) == [
                "test.yaml:5:57: pipelines[0].inputs[0].topics: only a sub input filters by topic; a pull input receives every message"
            ])
    }

    @Test func unknownSocketKindsGetASuggestion() {
        #expect(
            messages(
                "    inputs: [{endpoint: \"tcp://127.0.0.1:5555\", socket: pul}]\n    output: {endpoint: \"tcp://127.0.0.1:5556\", socket: pubb}\n")
                == [
                    "test.yaml:5:57: pipelines[0].inputs[0].socket: must be one of 'pull', 'sub', got \"pul\"; did you mean 'pull'?",
                    "test.yaml:6:56: pipelines[0].output.socket: must be one of 'push', 'pub', 'xpub', got \"pubb\"; did you mean 'pub'?",
                ])
    }

    @Test func aTopicOnAPushOutputIsRefused() {
        #expect(
            messages("    inputs: [{endpoint: \"tcp://127.0.0.1:5555\"}]\n    output: {endpoint: \"tcp://127.0.0.1:5556\", topic: x}\n") == [
                "test.yaml:6:55: pipelines[0].output.topic: only pub and xpub outputs send a topic frame"
            ])
    }

    @Test func aShutdownTimeoutThatIsNotADuration() {
        #expect(
            messages("    inputs: [{endpoint: \"tcp://127.0.0.1:5555\"}]\n    output: {endpoint: \"tcp://127.0.0.1:5556\", shutdown_timeout: soon}\n")
                == [
                    "test.yaml:6:66: pipelines[0].output.shutdown_timeout: expected a duration like 5s or 500ms, got a string \"soon\""
                ])
    }

    @Test func aNegativeShutdownTimeoutIsOutOfRange() {
        #expect(
            messages("    inputs: [{endpoint: \"tcp://127.0.0.1:5555\"}]\n    output: {endpoint: \"tcp://127.0.0.1:5556\", shutdown_timeout: -5s}\n")
                == [
                    "test.yaml:6:66: pipelines[0].output.shutdown_timeout: must be >= 0, got \"-5s\""
                ])
    }

    @Test func aNegativeHighWaterMark() {
        #expect(
            messages("    inputs: [{endpoint: \"tcp://127.0.0.1:5555\", high_water_mark: -5}]\n" + output) == [
                "test.yaml:5:66: pipelines[0].inputs[0].high_water_mark: must be an integer > 0, got -5"
            ])
    }

    @Test func inputsWithoutAnOutputAndTheReverse() {
        #expect(
            messages("    inputs: [{endpoint: \"tcp://127.0.0.1:5555\"}]\n") == [
                "test.yaml:2:5: pipelines[0]: has 'inputs' but no 'output'; the daemon needs somewhere to send the batches"
            ])
        #expect(
            messages(output) == [
                "test.yaml:2:5: pipelines[0]: has an 'output' but no 'inputs'; the daemon needs somewhere to read rows from"
            ])
    }
}
