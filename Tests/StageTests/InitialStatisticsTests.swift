import NormCore
import NormTesting
import StageKit
import Testing

/// tf_keras' `moving_mean_initializer` / `moving_variance_initializer` and, under
/// `convention: torch`, `running_mean_init` / `running_var_init`: the statistics a stage starts
/// from, so infer before any training uses them; a restored checkpoint overrides them.
@Suite struct InitialStatisticsTests {
    static let mean = [1.0, -2.0, 3.0, 0.5]

    /// Infer output of a fresh stage must be `(x − mean)/√(variance + ε)`.
    func expectInferUses(_ chain: StageChain, mean: [Double], variance: Double, epsilon: Double) throws {
        var data = SampleData.mixedScale(seed: 5)
        let original = data.mixedScaleBatch(rows: 3)
        var batch = original
        try chain.process(&batch, mode: .infer)
        for row in 0..<3 {
            for f in 0..<4 {
                let expected = (Double(original[row, f]) - mean[f]) / (variance + epsilon).squareRoot()
                // Float32 output: a relative bound.
                #expect(abs(Double(batch[row, f]) - expected) <= 1e-5 * max(1, abs(expected)), "row \(row) feature \(f)")
            }
        }
    }

    @Test func kerasStartsFromTheInitializers() throws {
        let chain = try #require(
            ChainFactory.chain(
                [
                    ("type", .text("batch_norm")), ("moving_mean_initializer", .numbers(Self.mean)), ("moving_variance_initializer", .number(4)),
                ], featureCount: 4))
        try expectInferUses(chain, mean: Self.mean, variance: 4, epsilon: 1e-3)
        let state = chain.saveState()[0]
        #expect(state.statistics["moving_mean"] == Self.mean)
        #expect(state.statistics["moving_variance"] == [4, 4, 4, 4])
        #expect(chain.stages[0].parameters["moving_mean_initializer"] == .numbers(Self.mean))
        #expect(chain.stages[0].parameters["moving_variance_initializer"] == .numbers([4, 4, 4, 4]))
    }

    @Test func torchStartsFromTheInitialValues() throws {
        let chain = try #require(
            ChainFactory.chain(
                [
                    ("type", .text("batch_norm")), ("convention", .text("torch")),
                    ("running_mean_init", .numbers(Self.mean)), ("running_var_init", .number(9)),
                ], featureCount: 4))
        try expectInferUses(chain, mean: Self.mean, variance: 9, epsilon: 1e-5)
        #expect(chain.saveState()[0].statistics["running_var"] == [9, 9, 9, 9])
    }

    @Test func aRestoredStateOverridesTheInitializers() throws {
        let plain = try #require(ChainFactory.chain([("type", .text("batch_norm"))], featureCount: 4))
        let warm = try #require(
            ChainFactory.chain(
                [
                    ("type", .text("batch_norm")), ("moving_mean_initializer", .number(7)), ("moving_variance_initializer", .number(3)),
                ], featureCount: 4))
        try warm.restoreState(plain.saveState())
        try expectInferUses(warm, mean: [0, 0, 0, 0], variance: 1, epsilon: 1e-3)
    }

    @Test func withoutInitializersNothingNewIsRecorded() throws {
        let chain = try #require(ChainFactory.chain([("type", .text("batch_norm"))], featureCount: 4))
        #expect(chain.stages[0].parameters["moving_mean_initializer"] == nil)
        #expect(chain.stages[0].parameters["moving_variance_initializer"] == nil)
    }

    @Test func badInitialValuesAreLocatedRefusals() {
        expectIssues(
            [("type", "batch_norm"), ("moving_variance_initializer", "-1"), ("moving_mean_initializer", "[1, 2]")],
            [
                "cfg.yaml:4:30: pipelines[0].stages[0].moving_mean_initializer: expected one value per feature (3), got a list of 2",
                "cfg.yaml:3:34: pipelines[0].stages[0].moving_variance_initializer: must be >= 0, got -1",
            ])
        expectIssues(
            [("type", "batch_norm"), ("convention", "torch"), ("track_running_stats", "false"), ("running_mean_init", "1")],
            [
                "cfg.yaml:5:24: pipelines[0].stages[0].running_mean_init: is given but track_running_stats is false (no running statistics); "
                    + "remove it or set track_running_stats: true"
            ])
        expectIssues(
            [("type", "batch_norm"), ("convention", "torch"), ("moving_mean_initializer", "1")],
            [
                "cfg.yaml:4:5: pipelines[0].stages[0].moving_mean_initializer: unknown key 'moving_mean_initializer'; "
                    + "expected one of: type, columns, convention, momentum, eps, affine, track_running_stats, gamma, beta, "
                    + "running_mean_init, running_var_init (convention: torch uses PyTorch's names)"
            ])
    }
}
