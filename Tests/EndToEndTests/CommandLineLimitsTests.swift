import Foundation
import NormTesting
import Testing

/// Numeric flags are bounded like configuration values: out of range is a usage error (exit 64,
/// ArgumentParser's `Error:` line), never a trap or a busy loop.
@Suite struct CommandLineLimitsTests {
    /// A daemon configuration on wildcard ports, so the test never collides with another.
    private static let config = """
        pipelines:
          - name: p
            features: 4
            inputs: [{endpoint: "tcp://127.0.0.1:*"}]
            output: {endpoint: "tcp://127.0.0.1:*"}
            stages: [{type: batch_norm}]

        """

    /// `inf` and `1e300` trapped converting to milliseconds; `0.0001` spun at 117 % CPU (here it
    /// would run until the timeout); `nan` and `0` are just as meaningless.
    @Test(arguments: [("inf", "inf"), ("1e300", "1e+300"), ("0.0001", "0.0001"), ("nan", "nan"), ("100000", "100000.0")])
    func countsIntervalOutsideATenthOfASecondToADayIsAUsageError(flag: String, printed: String) throws {
        let scratch = try ScratchDirectory()
        _ = try scratch.write(Self.config, to: "c.yaml")
        let result = try BoundedNormd.run(["run", "--config", "c.yaml", "--counts-interval", flag], in: scratch.url)
        #expect(result.status == 64)
        #expect(
            result.stderrLines == [
                "Error: --counts-interval must be from 0.1 to 86400 seconds (Docs/LIMITS.md), got \(printed)",
                "Usage: normd run --config <config> [--counts-interval <counts-interval>] [--reset-state] [--log-level <log-level>]",
                "  See 'normd run --help' for more information.",
            ])
    }

    @Test func applyBatchSizeIsBoundedLikeBatchSize() throws {
        let scratch = try ScratchDirectory()
        try NpyFixture.writeFloat32([[1, 2, 3, 4, 5, 6, 7, 8]], columns: 8, to: scratch.path("in.npy"))
        let config = Normd.repositoryRoot.appendingPathComponent("Config/normd.yaml").path
        let result = try BoundedNormd.run(
            [
                "apply", "--config", config, "--input", "in.npy", "--output", "out.npy",
                "--batch-size", "4611686018427387904",
            ], in: scratch.url)
        #expect(result.status == 64)
        #expect(
            result.stderrLines == [
                "Error: --batch-size must be from 1 to 1048576 (Docs/LIMITS.md), got 4611686018427387904",
                "Usage: normd apply --config <config> [--pipeline <pipeline>] [--mode <mode>] --input <input> --output <output> [--state <state>] [--batch-size <batch-size>] [--log-level <log-level>]",
                "  See 'normd apply --help' for more information.",
            ])
        #expect(try scratch.contents() == ["in.npy"])
    }
}
