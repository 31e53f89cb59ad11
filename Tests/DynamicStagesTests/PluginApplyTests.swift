import Checkpoint
import Foundation
import NormCore
import NormTesting
import NpyFormat
import StageKit
import Testing

/// Both example plugins normalizing real batches through `normd apply`, their state saved to and
/// restored from the state file like built-in state, and the numbers equal to an in-process chain.
@Suite struct PluginApplyTests {
    static let stages = "[{type: log1p, offset: 1}, {type: robust_scale, step: 0.1}]"

    private func configuration() -> String {
        """
        plugins:
          - \(BuildProducts.log1p)
          - \(BuildProducts.robustScale)
        pipelines:
          - name: p
            features: 3
            batch: {size: 4, min_rows: 2}
            stages: \(Self.stages)

        """
    }

    private func npy(_ batch: FeatureBatch, to path: String) throws {
        try Data(Npy.encode(batch)).write(to: URL(fileURLWithPath: path))
    }

    private func readNpy(_ path: String) throws -> FeatureBatch {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        return try bytes.withUnsafeBytes { try Npy.decode($0) }
    }

    @Test func trainsThenInfersWithStateRoundTrippedThroughTheStateFile() throws {
        let scratch = try ScratchDirectory()
        try scratch.write(configuration(), to: "cfg.yaml")
        var data = SampleData(features: 3, transform: { $0 * 40 })
        let training = data.batch(rows: 10), later = data.batch(rows: 3)
        try npy(training, to: scratch.path("train.npy"))
        try npy(later, to: scratch.path("later.npy"))

        let trained = try Normd.run(
            [
                "apply", "--config", "cfg.yaml", "--mode", "train", "--input", "train.npy",
                "--output", "train-out.npy", "--state", "state.json",
            ], in: scratch)
        #expect(trained.stderrLines == ["normd apply: pipeline 'p' (train): 10 rows in 3 batches, 0 downgraded to infer"])
        #expect(trained.status == 0)

        // The same batches through an in-process chain (plugins loaded by DynamicStages).
        let chain = try StageBuilder.chain(Self.stages, features: 3, batchSize: 4)
        var expected: [Float] = []
        for start in stride(from: 0, to: 10, by: 4) {
            let rows = min(4, 10 - start)
            var batch = FeatureBatch(rows: rows, features: 3, values: Array(training.values[(start * 3)..<((start + rows) * 3)]))
            try chain.process(&batch, mode: .train)
            expected += batch.values
        }
        #expect(try readNpy(scratch.path("train-out.npy")).values == expected)

        // Plugin statistics sit in the state file next to built-in ones, under the plugins' own names.
        let document = try #require(try StateFile.read(path: scratch.path("state.json")))
        let record = try #require(document.pipeline(named: "p"))
        #expect(record.stages.map(\.kind) == ["log1p", "robust_scale"])
        #expect(record.stages[0].counters == ["rows_seen": 10])
        #expect(record.stages[0].fingerprint == ["kind": "log1p", "offset": "1.0"])
        #expect(record.stages[1].counters == ["n_samples_seen": 10])
        #expect(record.stages[1].statistics.keys.sorted() == ["mad", "median"])
        #expect(record.stages[1].statistics == chain.stages[1].saveState().statistics)

        // A second run restores them: infer output equals the trained in-process chain's.
        let inferred = try Normd.run(
            [
                "apply", "--config", "cfg.yaml", "--mode", "infer", "--input", "later.npy",
                "--output", "later-out.npy", "--state", "state.json",
            ], in: scratch)
        #expect(inferred.stderrLines == ["normd apply: pipeline 'p' (infer): 3 rows in 1 batch, 0 downgraded to infer"])
        var expectedLater = later
        try chain.process(&expectedLater, mode: .infer)
        #expect(try readNpy(scratch.path("later-out.npy")).values == expectedLater.values)
    }

    @Test func aStateFileFromOtherPluginParametersIsRefused() throws {
        let scratch = try ScratchDirectory()
        try scratch.write(configuration(), to: "cfg.yaml")
        var data = SampleData(features: 3, transform: { $0 * 40 })
        try npy(data.batch(rows: 4), to: scratch.path("in.npy"))
        let first = try Normd.run(
            ["apply", "--config", "cfg.yaml", "--input", "in.npy", "--output", "out.npy", "--state", "state.json"], in: scratch)
        #expect(first.status == 0)
        try scratch.write(configuration().replacingOccurrences(of: "step: 0.1", with: "step: 0.2"), to: "cfg.yaml")
        let second = try Normd.run(
            ["apply", "--config", "cfg.yaml", "--input", "in.npy", "--output", "out.npy", "--state", "state.json"], in: scratch)
        #expect(second.status == 78)
        #expect(
            second.stderrLines == [
                "normd apply: state.json: pipeline 'p', stages[1] (robust_scale): saved statistics were computed with different parameters: step is 0.1 in the state file, 0.2 in the configuration"
            ])
    }
}
