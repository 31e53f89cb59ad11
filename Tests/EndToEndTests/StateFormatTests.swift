import Foundation
import NormTesting
import Testing

/// State format 2 through the real binary: the documented checksum recipe verifies what normd
/// writes, `params` are recorded as configured, crafted files are refused by `state` commands.
@Suite struct StateFormatTests {
    /// Trains `stages` on 32 rows of 3 features with `normd apply --state`; returns the state file.
    private func trainedState(stages: [String], in scratch: ScratchDirectory) throws -> String {
        let rows: [[Float]] = (0..<32).map { row in (0..<3).map { column in Float((row * 3 + column) % 7) - 2.5 } }
        try NpyFixture.writeFloat32(rows, columns: 3, to: scratch.path("in.npy"))
        var pipeline = PipelineYAML()
        pipeline.features = 3
        pipeline.batch = "{size: 8, min_rows: 2, max_latency: 10s}"
        pipeline.stages = stages
        let config = try scratch.write(PipelineYAML.config(pipeline), to: "normd.yaml")
        let apply = try Normd.run(
            [
                "apply", "--config", config, "--mode", "train", "--input", "in.npy", "--output", "out.npy",
                "--state", "state.json",
            ], in: scratch.url)
        try #require(apply.status == 0, "\(apply.stderr)")
        return scratch.path("state.json")
    }

    /// The Python block after `<!-- verify-checksum -->` in Docs/STATE_FORMAT.md.
    private func documentedSnippet() throws -> String {
        let doc = try String(contentsOf: Normd.repositoryRoot.appendingPathComponent("Docs/STATE_FORMAT.md"), encoding: .utf8)
        let marker = try #require(doc.range(of: "<!-- verify-checksum -->\n```python\n"))
        let end = try #require(doc.range(of: "\n```", range: marker.upperBound..<doc.endIndex))
        return String(doc[marker.upperBound..<end.lowerBound])
    }

    private func python(_ script: String, _ arguments: [String], in scratch: ScratchDirectory) throws -> (status: Int32, output: String) {
        let file = try scratch.write(script, to: "snippet-\(UUID().uuidString).py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", file] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test func theDocumentedPythonSnippetVerifiesAFileWrittenByNormdAndCatchesAFlippedDigit() throws {
        let scratch = try ScratchDirectory()
        let state = try trainedState(stages: ["{type: min_max}", "{type: batch_norm}"], in: scratch)
        let snippet = try documentedSnippet()
        let verified = try python(snippet, [state], in: scratch)
        #expect(verified.status == 0 && verified.output == "ok sensors\n", "\(verified.output)")

        var text = try String(contentsOfFile: state, encoding: .utf8)
        let digit = try #require(text.range(of: "\"n_samples_seen\":32"))
        text.replaceSubrange(digit, with: "\"n_samples_seen\":33")
        let damaged = try scratch.write(text, to: "damaged.json")
        let refused = try python(snippet, [damaged], in: scratch)
        #expect(refused.status == 1 && refused.output.hasSuffix("AssertionError: damaged\n"), "\(refused.output)")
        let show = try Normd.run(["state", "show", damaged])
        #expect(show.status == 65)
        #expect(
            show.stderrLines.count == 1
                && show.stderrLines[0].hasPrefix("normd state show: \(damaged): state file is damaged or was edited: body checksum is crc32:"))
    }

    @Test func everyBuiltInStageRecordsItsParametersAsConfigured() throws {
        let scratch = try ScratchDirectory()
        let state = try trainedState(
            stages: [
                "{type: min_max, feature_range: [-1, 1], clip: true}",
                "{type: batch_norm, momentum: 0.9, epsilon: 0.01, center: false, gamma: [1, 2, 3], virtual_batch_size: 4}",
                "{type: batch_norm, convention: torch, momentum: null, eps: 0.0001, affine: true, beta: 0.5}",
                "{type: batch_renorm, renorm_clipping: {rmax: 3, dmax: 5}, renorm_momentum: 0.95, renorm_warmup: {start: 2, end: 10}}",
            ], in: scratch)
        let report = try PythonScript.run(
            """
            body = json.load(open("state.json"))["body"]
            for s in body["pipelines"][0]["stages"]:
                print(s["index"], json.dumps(s["params"], sort_keys=True))
            """, in: scratch.url)
        #expect(
            report.split(separator: "\n").map(String.init) == [
                #"0 {"clip": true, "feature_range": [-1, 1]}"#,
                #"1 {"beta": [0, 0, 0], "center": false, "epsilon": 0.01, "gamma": [1, 2, 3], "momentum": 0.9, "scale": true, "virtual_batch_size": 4}"#,
                #"2 {"affine": true, "beta": [0.5, 0.5, 0.5], "eps": 0.0001, "gamma": [1, 1, 1], "momentum": null, "track_running_stats": true}"#,
                #"3 {"beta": [0, 0, 0], "center": true, "epsilon": 0.001, "gamma": [1, 1, 1], "momentum": 0.99, "renorm_clipping_dmax": 5, "renorm_clipping_rmax": 3, "renorm_clipping_rmin": null, "renorm_momentum": 0.95, "renorm_warmup_end": 10, "renorm_warmup_start": 2, "scale": true, "virtual_batch_size": null}"#,
            ])
        _ = state
    }

    /// Writes a format-2 file around `body` with a valid checksum, as an attacker would.
    private func crafted(_ body: String, named name: String, version: Int = 2, in scratch: ScratchDirectory) throws -> String {
        let path = scratch.path(name)
        _ = try PythonScript.run(
            """
            import zlib
            body = \(String(reflecting: body)).encode()
            open(\(String(reflecting: path)), "wb").write(b'{"format":"normd-state","format_version":\(version),"checksum":"crc32:%08x","body":' % zlib.crc32(body) + body + b'}\\n')
            """)
        return path
    }

    private static func stage(_ kind: String = "min_max", statistics: String = "{\"data_min\":[0]}", counters: String = "{}") -> String {
        "{\"columns\":[0],\"counters\":\(counters),\"fingerprint\":{},\"index\":0,\"kind\":\"\(kind)\",\"state_version\":1,\"statistics\":\(statistics)}"
    }

    @Test func exportRefusesKeysThatWouldEscapeOrCollideAndWritesNothing() throws {
        let scratch = try ScratchDirectory()
        let cases: [(body: String, message: String)] = [
            (
                "{\"pipelines\":[{\"features\":1,\"name\":\"..\",\"stages\":[\(Self.stage())]}]}",
                "cannot export key '../0_min_max/data_min': the name '..' is a relative path component"
            ),
            (
                "{\"pipelines\":[{\"features\":1,\"name\":\"p\",\"stages\":[\(Self.stage(statistics: "{\"../../evil\":[1]}"))]}]}",
                "cannot export key 'p/0_min_max/../../evil': the name '../../evil' contains a path separator"
            ),
            (
                "{\"pipelines\":[{\"features\":1,\"name\":\"p\",\"stages\":[\(Self.stage(statistics: "{\"x\":[1]}", counters: "{\"x\":2}"))]}]}",
                "cannot export: two arrays would both be named 'p/0_min_max/x'"
            ),
        ]
        for (index, (body, message)) in cases.enumerated() {
            let file = try crafted(body, named: "crafted\(index).json", in: scratch)
            for format in ["npz", "json"] {
                let export = try Normd.run(["state", "export", file, "--format", format, "--output", scratch.path("out.\(format)")])
                #expect(export.status == 65)
                #expect(export.stderrLines == ["normd state export: \(message)"])
            }
        }
        let duplicate = try crafted(
            "{\"pipelines\":[{\"features\":1,\"name\":\"p\",\"stages\":[]},{\"features\":1,\"name\":\"p\",\"stages\":[]}]}",
            named: "duplicate.json", in: scratch)
        let refused = try Normd.run(["state", "export", duplicate, "--format", "npz", "--output", scratch.path("out.npz")])
        #expect(refused.status == 65)
        #expect(
            refused.stderrLines == ["normd state export: \(duplicate): malformed state file body: at pipelines[1].name: a second pipeline named 'p'"])
        #expect(try scratch.contents().filter { $0.hasPrefix("out.") } == [])
    }

    @Test func aFileFromANewerNormdIsRefusedAsSuchNotAsDamaged() throws {
        let scratch = try ScratchDirectory()
        let file = try crafted("{\"pipelines\":[],\"something_new\":1}", named: "future.json", version: 3, in: scratch)
        let show = try Normd.run(["state", "show", file])
        #expect(show.status == 65)
        #expect(
            show.stderrLines == ["normd state show: \(file): written by a newer normd (format 3, this normd reads up to 2); upgrade normd to read it"]
        )
    }

    @Test func applyWithAStateFileHoldingInt64MaxCountersSaturatesInsteadOfTrapping() throws {
        let scratch = try ScratchDirectory()
        let stages = ["{type: min_max}", "{type: batch_norm, convention: torch}", "{type: batch_renorm}"]
        let state = try trainedState(stages: stages, in: scratch)
        // Re-sign the edited body with the documented recipe: the checksum is valid, the counters absurd.
        _ = try PythonScript.run(
            """
            import zlib
            body = json.load(open("state.json"))["body"]
            for s, name in zip(body["pipelines"][0]["stages"], ["n_samples_seen", "num_batches_tracked", "train_batches"]):
                s["counters"][name] = 2**63 - 1
            raw = json.dumps(body, separators=(",", ":")).encode()
            open("state.json", "wb").write(b'{"format":"normd-state","format_version":2,"checksum":"crc32:%08x","body":' % zlib.crc32(raw) + raw + b'}\\n')
            """, in: scratch.url)
        let config = scratch.path("normd.yaml")
        let apply = try Normd.run(
            [
                "apply", "--config", config, "--mode", "train", "--input", "in.npy", "--output", "out.npy",
                "--state", "state.json",
            ], in: scratch.url)
        #expect(apply.status == 0, "\(apply.stderr)")
        let report = try PythonScript.run(
            """
            body = json.load(open("state.json"))["body"]
            print(" ".join("%s=%d" % kv for s in body["pipelines"][0]["stages"] for kv in sorted(s["counters"].items())))
            """, in: scratch.url)
        #expect(report == "n_samples_seen=9223372036854775807 num_batches_tracked=9223372036854775807 train_batches=9223372036854775807\n")
        _ = state
    }
}
