import Foundation
import NormTesting
import Testing

/// The README's quick start, run as written: the default configuration, the example producer and
/// consumer from `Scripts/examples/` (whose code the README shows verbatim).
@Suite struct ReadmeExampleTests {
    static let examples = Normd.repositoryRoot.appendingPathComponent("Scripts/examples")

    @Test func theReadmeShowsTheExampleClientsVerbatim() throws {
        let readme = try String(contentsOf: Normd.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        for script in ["producer.py", "consumer.py"] {
            let code = try String(contentsOf: Self.examples.appendingPathComponent(script), encoding: .utf8)
            // The first line is a comment naming what the script does; the README says it in prose.
            let body = code.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)[1]
            #expect(readme.contains("```python\n" + body + "```"), "README.md must show Scripts/examples/\(script) as it is")
        }
    }

    @Test func theExampleClientsGetNormalizedBatchesFromTheDefaultConfig() throws {
        let scratch = try ScratchDirectory()
        let defaultConfig = try String(contentsOf: Normd.repositoryRoot.appendingPathComponent("Config/normd.yaml"), encoding: .utf8)
        // The same configuration on free ports, so the test never collides with a running daemon.
        let config = defaultConfig.replacingOccurrences(of: "tcp://127.0.0.1:5555", with: "tcp://127.0.0.1:*")
            .replacingOccurrences(of: "tcp://127.0.0.1:5556", with: "tcp://127.0.0.1:*")
            .replacingOccurrences(of: "127.0.0.1:9464", with: "127.0.0.1:0") // the admin server: any free port
        #expect(config != defaultConfig, "Config/normd.yaml no longer uses the README's endpoints")
        let daemon = try DaemonProcess.started(config: config, scratch: scratch)

        let consumer = try Subprocess(
            "consumer", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "NORMD_OUTPUT=\(try daemon.outputEndpoint(of: "sensors"))", "python3",
                Self.examples.appendingPathComponent("consumer.py").path,
            ], in: scratch.url)
        let producer = try Subprocess(
            "producer", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "NORMD_INPUT=\(try daemon.inputEndpoint(of: "sensors"))", "python3",
                Self.examples.appendingPathComponent("producer.py").path,
            ], in: scratch.url)
        #expect(try producer.waitForExit(timeout: .seconds(30)) == 0, "\(producer.stderr)")
        #expect(try consumer.waitForExit(timeout: .seconds(30)) == 0, "\(consumer.stderr)")

        let lines = consumer.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 15, "1000 rows in batches of 64: 15 full batches")
        for (index, line) in lines.enumerated() {
            let fields = line.split(separator: " ").map(String.init)
            // "<batch> train (64, 8) mean <m> std <s>": batch-normalized columns have mean ≈ 0, std ≈ 1.
            #expect(fields.prefix(4) == ["\(index)", "train", "(64,", "8)"], "\(line)")
            let mean = Double(fields[5]) ?? .nan, std = Double(fields[7]) ?? .nan
            #expect(abs(mean) < 0.01 && abs(std - 1) < 0.05, "\(line)")
        }
        #expect(try daemon.terminate() == 0)
    }
}
