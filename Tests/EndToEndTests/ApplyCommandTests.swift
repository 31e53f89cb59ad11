import Foundation
import NormTesting
import Testing

/// `normd apply` refusing bad input: exit code, message, and no file written.
@Suite struct ApplyCommandTests {
    /// Runs `apply` with the default config in a scratch directory holding only `input`.
    private func apply(
        inputNamed input: String, prepare: (ScratchDirectory) throws -> Void,
        config: String = Normd.repositoryRoot.appendingPathComponent("Config/normd.yaml").path,
        extra: [String] = []
    ) throws -> (Normd.Result, [String]) {
        let scratch = try ScratchDirectory()
        try prepare(scratch)
        let before = try scratch.contents()
        let result = try Normd.run(
            [
                "apply", "--config", config, "--mode", "train", "--input", input,
                "--output", "out.npy", "--state", "state.json",
            ] + extra, in: scratch.url)
        let written = try scratch.contents().filter { !before.contains($0) }
        return (result, written)
    }

    private static func rows(_ count: Int, width: Int = 8) -> [[Float]] {
        (0..<count).map { row in (0..<width).map { Float(row * width + $0) * 0.5 } }
    }

    @Test func trainsAndWritesOutputAndState() throws {
        let (result, written) = try apply(inputNamed: "in.npy") { try NpyFixture.writeFloat32(Self.rows(70), columns: 8, to: $0.path("in.npy")) }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(written == ["out.npy", "state.json"])
        #expect(result.stderrLines == ["normd apply: pipeline 'sensors' (train): 70 rows in 2 batches, 0 downgraded to infer"])
    }

    @Test func aOneRowTailRunsAsInfer() throws {
        let (result, _) = try apply(inputNamed: "in.npy") { try NpyFixture.writeFloat32(Self.rows(65), columns: 8, to: $0.path("in.npy")) }
        #expect(result.stderrLines == ["normd apply: pipeline 'sensors' (train): 65 rows in 2 batches, 1 downgraded to infer"])
    }

    @Test func aMissingInputIsNoInput() throws {
        let (result, written) = try apply(inputNamed: "missing.npy") { _ in }
        #expect(result.status == 66)
        #expect(result.stderrLines == ["normd apply: missing.npy: no such file"])
        #expect(written.isEmpty)
    }

    @Test func aTextFileIsDataError() throws {
        let (result, written) = try apply(inputNamed: "in.npy") { try "hello".write(toFile: $0.path("in.npy"), atomically: true, encoding: .utf8) }
        #expect(result.status == 65)
        #expect(result.stderrLines == ["normd apply: in.npy: not a .npy file (missing the \\x93NUMPY magic)"])
        #expect(written.isEmpty)
    }

    @Test func theWrongWidthIsDataError() throws {
        let (result, written) = try apply(inputNamed: "in.npy") {
            try NpyFixture.writeFloat32(Self.rows(4, width: 5), columns: 5, to: $0.path("in.npy"))
        }
        #expect(result.status == 65)
        #expect(result.stderrLines == ["normd apply: in.npy: rows have 5 features, the pipeline expects 8"])
        #expect(written.isEmpty)
    }

    @Test func threeDimensionsAreDataError() throws {
        let (result, written) = try apply(inputNamed: "in.npy") {
            try NpyFixture.write(descr: "<f4", shape: "(2, 2, 8)", payload: Data(count: 2 * 2 * 8 * 4), to: $0.path("in.npy"))
        }
        #expect(result.status == 65)
        #expect(result.stderrLines == ["normd apply: in.npy: expected a 2-D array (rows, features), got shape (2, 2, 8)"])
        #expect(written.isEmpty)
    }

    @Test func fortranOrderIsDataError() throws {
        let (result, written) = try apply(inputNamed: "in.npy") {
            try NpyFixture.write(descr: "<f4", shape: "(3, 8)", fortran: true, payload: Data(count: 3 * 8 * 4), to: $0.path("in.npy"))
        }
        #expect(result.status == 65)
        #expect(result.stderrLines == ["normd apply: in.npy: array is in Fortran (column-major) order; save a C-order array (np.ascontiguousarray)"])
        #expect(written.isEmpty)
    }

    @Test func aNonFiniteValueIsNamedByFileRowAndColumn() throws {
        let (result, written) = try apply(inputNamed: "in.npy") {
            var rows = Self.rows(70)
            rows[66][3] = .nan
            try NpyFixture.writeFloat32(rows, columns: 8, to: $0.path("in.npy"))
        }
        #expect(result.status == 65)
        #expect(result.stderrLines == ["normd apply: in.npy: non-finite value nan at row 66, column 3 (0-based)"])
        #expect(written.isEmpty)
    }

    @Test func anInvalidConfigurationIsConfigError() throws {
        let fixtures = try ValidateCommandTests.fixtures()
        let broken = fixtures.path("syntax.yaml")
        let (result, written) = try apply(
            inputNamed: "in.npy", prepare: { try NpyFixture.writeFloat32(Self.rows(4), columns: 8, to: $0.path("in.npy")) },
            config: broken)
        #expect(result.status == 78)
        #expect(result.stderrLines.first == "normd apply: invalid configuration:")
        #expect(written.isEmpty)
    }

    @Test func aStateFileForOtherParametersIsRefused() throws {
        let scratch = try ScratchDirectory()
        try NpyFixture.writeFloat32(Self.rows(64), columns: 8, to: scratch.path("in.npy"))
        let first = try scratch.write("pipelines:\n  - {name: p, features: 8, stages: [{type: batch_norm, virtual_batch_size: 4}]}\n", to: "a.yaml")
        let second = try scratch.write(
            "pipelines:\n  - {name: p, features: 8, stages: [{type: batch_norm, virtual_batch_size: 8, momentum: 0.9}]}\n", to: "b.yaml")
        let trained = try Normd.run(
            ["apply", "--config", first, "--mode", "train", "--input", "in.npy", "--output", "a.npy", "--state", "state.json"], in: scratch.url)
        #expect(trained.status == 0)
        let stateBefore = try Data(contentsOf: scratch.url.appendingPathComponent("state.json"))
        let refused = try Normd.run(
            ["apply", "--config", second, "--mode", "train", "--input", "in.npy", "--output", "b.npy", "--state", "state.json"], in: scratch.url)
        #expect(refused.status == 78)
        #expect(
            refused.stderrLines == [
                "normd apply: state.json: pipeline 'p', stages[0] (batch_norm): saved statistics were computed with different parameters: virtual_batch_size is 4 in the state file, 8 in the configuration"
            ])
        #expect(try scratch.contents() == ["a.npy", "a.yaml", "b.yaml", "in.npy", "state.json"])
        #expect(try Data(contentsOf: scratch.url.appendingPathComponent("state.json")) == stateBefore)
    }

    @Test func severalPipelinesNeedPipelineOption() throws {
        let config = Normd.repositoryRoot.appendingPathComponent("Config/reference.yaml").path
        let (result, written) = try apply(
            inputNamed: "in.npy", prepare: { try NpyFixture.writeFloat32(Self.rows(4), columns: 8, to: $0.path("in.npy")) },
            config: config)
        #expect(result.status == 64)
        #expect(result.stderrLines == ["normd apply: \(config) has 2 pipelines; choose one with --pipeline (sensors, torch_ids)"])
        #expect(written.isEmpty)
    }
}
