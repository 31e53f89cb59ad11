import Foundation
import NormTesting
import Testing

/// Generation file names the daemon did not write, through the built binary: they never trap it.
@Suite(.serialized) struct CheckpointGenerationTests {
    private func prepare(_ names: [String], in scratch: ScratchDirectory) throws -> String {
        let config = try scratch.write(CheckpointDaemonTests.config(), to: "normd.yaml")
        try FileManager.default.createDirectory(atPath: scratch.path("state"), withIntermediateDirectories: true)
        for name in names { _ = try scratch.write("{}", to: "state/" + name) }
        return config
    }

    private func generations(_ scratch: ScratchDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: scratch.path("state")).filter { $0.hasPrefix("normd-state-") }.sorted()
    }

    @Test func aGenerationNamedUInt64MaxIsSkippedWithAWarningEvenWithResetState() throws {
        for (arguments, written) in [
            (["--reset-state"], ["normd-state-00000001.json", "normd-state-00000002.json"]),
            ([], ["normd-state-00000001.json"]),
        ] {
            let scratch = try ScratchDirectory()
            let absurd = "normd-state-18446744073709551615.json"
            let config = try prepare([absurd], in: scratch)
            let daemon = try DaemonUnderTest(config: config, arguments: arguments, logDirectory: scratch.url)
            #expect(daemon.isRunning, "\(daemon.log)")
            #expect(
                daemon.logLines.contains(
                    "level=warning msg=\"checkpoint file name ignored\" file=\(scratch.path("state/" + absurd)) "
                        + "reason=\"generation number above 999999999999, which normd never writes\""), "\(daemon.log)")
            _ = try TensorClient.exchange(daemon, indices: 0..<1, rows: CheckpointDaemonTests.rows, features: CheckpointDaemonTests.features)
            #expect(daemon.terminate() == 0)
            #expect(try generations(scratch) == written + [absurd])
            let show = try Normd.run(["state", "show", scratch.path("state")])
            #expect(show.status == 0)
            #expect(
                show.stderrLines == [
                    "normd state: ignored \(scratch.path("state/" + absurd)): generation number above 999999999999, which normd never writes"
                ])
        }
    }

    /// The newest generation was written by a newer normd (a downgrade): falling back to an older
    /// generation would silently roll the statistics back, and the next write would bury the newer
    /// file. The start is refused instead, naming the file; `--reset-state` still starts fresh.
    @Test func aNewestGenerationFromANewerNormdRefusesTheStart() throws {
        let scratch = try ScratchDirectory()
        let config = try prepare([], in: scratch)
        let first = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(first.terminate() == 0)
        let newer = scratch.path("state/normd-state-00000002.json")
        _ = try PythonScript.run(
            """
            import zlib
            body = b'{"pipelines":[],"something_new":1}'
            open(\(String(reflecting: newer)), "wb").write(b'{"format":"normd-state","format_version":3,"checksum":"crc32:%08x","body":' % zlib.crc32(body) + body + b'}\\n')
            """)
        let refused = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(refused.waitForExit() == 78)
        #expect(
            refused.logLines.last == "\(newer): written by a newer normd (format 3, this normd reads up to 2); upgrade normd to read it; "
                + "older generations are not used in its place (that would roll the statistics back); start with --reset-state to discard them")
        #expect(try generations(scratch) == ["normd-state-00000001.json", "normd-state-00000002.json"])
    }

    @Test func atTheHighestGenerationTheStartIsRefusedWithExit73() throws {
        let scratch = try ScratchDirectory()
        let config = try prepare([], in: scratch)
        // A real generation at the limit: copy a valid one written by the daemon.
        let first = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(first.terminate() == 0)
        let highest = scratch.path("state/normd-state-999999999999.json")
        try FileManager.default.moveItem(atPath: scratch.path("state/normd-state-00000001.json"), toPath: highest)
        for arguments in [[], ["--reset-state"]] {
            let refused = try DaemonUnderTest(config: config, arguments: arguments, logDirectory: scratch.url)
            #expect(refused.waitForExit() == 73)
            #expect(
                refused.logLines.last == "\(highest): generation numbers are exhausted (999999999999 is the highest normd writes); "
                    + "move the generations elsewhere and rename the newest one to normd-state-00000001.json to continue from it")
        }
        #expect(try generations(scratch) == ["normd-state-999999999999.json"])
    }
}
