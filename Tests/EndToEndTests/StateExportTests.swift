import Foundation
import NormTesting
import Testing

/// `normd state show|export`: what a trainer loads must be exactly the state file's numbers.
@Suite struct StateExportTests {
    /// A state file written by `normd apply` (the same format as checkpoint generations).
    private func trainedState(in scratch: ScratchDirectory) throws -> String {
        let rows: [[Float]] = (0..<70).map { (row: Int) -> [Float] in
            (0..<8).map { (column: Int) -> Float in Float((row * 8 + column) % 13) * 0.5 - 2 }
        }
        try NpyFixture.writeFloat32(rows, columns: 8, to: scratch.path("in.npy"))
        let config = Normd.repositoryRoot.appendingPathComponent("Config/normd.yaml").path
        let apply = try Normd.run(
            [
                "apply", "--config", config, "--mode", "train", "--input", "in.npy", "--output", "out.npy",
                "--state", "state.json",
            ], in: scratch.url)
        try #require(apply.status == 0, "\(apply.stderr)")
        return scratch.path("state.json")
    }

    @Test func theNpzLoadsWithNumPyAndHoldsTheStateFilesNumbers() throws {
        let scratch = try ScratchDirectory()
        let state = try trainedState(in: scratch)
        let npz = try Normd.run(["state", "export", state, "--format", "npz", "--output", scratch.path("state.npz")])
        #expect(npz.status == 0, "\(npz.stderr)")
        let json = try Normd.run(["state", "export", state, "--format", "json", "--output", scratch.path("flat.json")])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try PythonScript.run(
            """
            body = json.load(open("state.json"))["body"]
            expected = {}
            for p in body["pipelines"]:
                for s in p["stages"]:
                    prefix = "%s/%d_%s/" % (p["name"], s["index"], s["kind"])
                    for k, v in s["statistics"].items(): expected[prefix + k] = np.array(v, dtype="<f8")
                    for k, v in s["counters"].items(): expected[prefix + k] = np.array(v, dtype="<i8")
            z = np.load("state.npz")
            flat = json.load(open("flat.json"))
            assert sorted(z.files) == sorted(expected), (sorted(z.files), sorted(expected))
            assert sorted(flat) == sorted(expected)
            for k, v in expected.items():
                assert z[k].dtype == v.dtype and z[k].shape == v.shape and np.array_equal(z[k], v), k
                assert np.array_equal(np.array(flat[k], dtype=v.dtype), v), k
            print(" ".join(sorted(z.files)))
            """, in: scratch.url)
        #expect(
            report == "sensors/0_min_max/data_max sensors/0_min_max/data_min sensors/0_min_max/data_range sensors/0_min_max/min "
                + "sensors/0_min_max/n_samples_seen sensors/0_min_max/scale sensors/1_batch_norm/moving_mean sensors/1_batch_norm/moving_variance\n")
    }

    @Test func showPrintsATablePerStageWithTheVarianceLabelled() throws {
        let scratch = try ScratchDirectory()
        let state = try trainedState(in: scratch)
        let show = try Normd.run(["state", "show", state])
        #expect(show.status == 0, "\(show.stderr)")
        // Columns are padded to their widest cell; compare words.
        let lines = show.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(
            Array(lines.prefix(4)) == [
                state, "pipeline 'sensors' (8 features)",
                "stages[0] min_max (sklearn) state_version 1 n_samples_seen=70",
                "column data_min data_max data_range scale min",
            ])
        #expect(lines.contains("stages[1] batch_norm (keras) state_version 1"))
        #expect(lines.contains("column moving_mean moving_variance (biased)"))
        #expect(lines.count == 4 + 8 + 2 + 8)
    }

    /// `standard_scale` keeps sklearn's `StandardScaler` attributes; show and export list them.
    @Test func showAndExportListStandardScale() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(
            """
            pipelines:
              - name: p
                features: 3
                stages:
                  - {type: standard_scale, columns: [0, 2]}
            """, to: "normd.yaml")
        try NpyFixture.writeFloat32([[1, 9, 10], [3, 9, 10], [5, 9, 10], [7, 9, 10]], columns: 3, to: scratch.path("in.npy"))
        let apply = try Normd.run(
            [
                "apply", "--config", config, "--mode", "train", "--input", "in.npy", "--output", "out.npy",
                "--state", "state.json",
            ], in: scratch.url)
        try #require(apply.status == 0, "\(apply.stderr)")
        let show = try Normd.run(["state", "show", scratch.path("state.json")])
        #expect(show.status == 0, "\(show.stderr)")
        let lines = show.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(
            Array(lines.dropFirst()) == [
                "pipeline 'p' (3 features)",
                "stages[0] standard_scale (sklearn) state_version 1 n_samples_seen=4",
                "column mean var (biased) scale",
                "0 4 5 2.23606798",
                "2 10 0 1",
            ])
        let export = try Normd.run(["state", "export", scratch.path("state.json"), "--format", "json", "--output", scratch.path("flat.json")])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(
            try String(contentsOfFile: scratch.path("flat.json"), encoding: .utf8) == #"{"p/0_standard_scale/mean":[4,10],"#
                + #""p/0_standard_scale/n_samples_seen":4,"p/0_standard_scale/scale":[2.23606797749979,1],"p/0_standard_scale/var":[5,0]}"# + "\n")
    }

    @Test func aMissingOrDamagedFileIsRefused() throws {
        let scratch = try ScratchDirectory()
        let missing = try Normd.run(["state", "show", scratch.path("nope.json")])
        #expect(missing.status == 66)
        #expect(missing.stderrLines == ["normd state show: \(scratch.path("nope.json")): no such file"])
        let damaged = try scratch.write(
            "{\"format\":\"normd-state\",\"format_version\":1,\"checksum\":\"crc32:00000000\",\"body\":{\"pipelines\":[]}}", to: "bad.json")
        let refused = try Normd.run(["state", "export", damaged, "--format", "npz", "--output", scratch.path("x.npz")])
        #expect(refused.status == 65)
        #expect(
            refused.stderrLines == [
                "normd state export: \(damaged): state file is damaged or was edited: body checksum is crc32:e018724e, the file says crc32:00000000"
            ])
        #expect(try scratch.contents() == ["bad.json"])
    }
}
