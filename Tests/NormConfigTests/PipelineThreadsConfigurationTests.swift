import BuiltinStages
import NormConfig
import Testing

/// `chain_thread:` is a plain boolean, off by default, and refused beside `sync:` (a sync step
/// exchanges statistics on the pipeline's own thread, which a chain thread would leave).
@Suite struct ChainThreadConfigurationTests {
    private func validate(_ lines: String) -> ConfigurationValidation {
        let yaml = "pipelines:\n  - name: p\n    features: 2\n    stages: [{type: batch_norm}]\n" + lines
        return NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry())
    }

    @Test func itIsOffUnlessSetTrue() {
        #expect(validate("").configuration?.pipelines.first?.chainThread == false)
        #expect(validate("    chain_thread: false\n").configuration?.pipelines.first?.chainThread == false)
        #expect(validate("    chain_thread: true\n").configuration?.pipelines.first?.chainThread == true)
    }

    @Test func aValueThatIsNotABooleanIsRefusedWhereItIs() {
        #expect(
            validate("    chain_thread: 2\n").issues.map(\.description) == [
                "test.yaml:5:19: pipelines[0].chain_thread: expected true or false, got an integer 2"
            ])
    }

    @Test func itIsRefusedBesideSync() {
        let lines =
            "    chain_thread: true\n    sync:\n      group: g\n      rank: 0\n"
            + "      members: [\"tcp://127.0.0.1:5570\", \"tcp://127.0.0.1:5571\"]\n"
        #expect(
            validate(lines).issues.map(\.description) == [
                "test.yaml:5:19: pipelines[0].chain_thread: cannot be used with 'sync': a sync step exchanges statistics on the pipeline's own thread; remove one of them"
            ])
    }
}

/// `io_threads:` is 1 (the default) or 2; anything else is refused where it is written.
@Suite struct IOThreadsConfigurationTests {
    private func validate(_ lines: String) -> ConfigurationValidation {
        let yaml = "pipelines:\n  - name: p\n    features: 2\n    stages: [{type: batch_norm}]\n" + lines
        return NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry())
    }

    @Test func oneUnlessTwoIsWritten() {
        #expect(validate("").configuration?.pipelines.first?.ioThreads == 1)
        #expect(validate("    io_threads: 2\n").configuration?.pipelines.first?.ioThreads == 2)
    }

    @Test func otherCountsAndTypesAreRefusedWhereTheyAre() {
        #expect(
            validate("    io_threads: 3\n").issues.map(\.description) == [
                "test.yaml:5:17: pipelines[0].io_threads: must be 1 or 2 (2: the inputs on one libzmq I/O thread, the output on another), got 3"
            ])
        #expect(
            validate("    io_threads: two\n").issues.map(\.description) == [
                "test.yaml:5:17: pipelines[0].io_threads: expected an integer, got a string \"two\""
            ])
    }
}
