import NormCore
import NormTesting
import StageKit
import StandardScale
import Testing

/// `standard_scale`: its messages (asserted whole), its state names and the rules of its state.
/// The numbers themselves are checked against the real scikit-learn by `ProjectReferenceCaseTests`.
@Suite struct StandardScaleTests {
    @Test func conventionWrongTypesAndUnknownKeys() {
        expectIssues(
            [("type", "standard_scale"), ("convention", "torch"), ("with_mean", "1"), ("with_sdt", "false")],
            [
                "cfg.yaml:3:17: pipelines[0].stages[0].convention: must be one of 'sklearn', got torch",
                "cfg.yaml:4:16: pipelines[0].stages[0].with_mean: expected true or false, got an integer 1",
                "cfg.yaml:5:5: pipelines[0].stages[0].with_sdt: unknown key 'with_sdt'; did you mean 'with_std'?",
            ])
    }

    @Test func aValidConfigurationBuildsSilently() {
        expectIssues([("type", "standard_scale"), ("with_mean", "false"), ("with_std", "true"), ("convention", "sklearn")], [])
    }

    /// The state holds sklearn's fitted attributes, and only those sklearn sets.
    @Test func stateNamesFollowScikitLearnsAttributes() throws {
        func names(withMean: Bool, withStd: Bool) throws -> [String] {
            let stage = StandardScaleStage(featureCount: 2, withMean: withMean, withStd: withStd)
            var batch = FeatureBatch(rowsOf: [[1, 2], [3, 5], [5, 5]], features: 2)
            try stage.process(&batch, mode: .train)
            let state = stage.saveState()
            #expect(state.counters == ["n_samples_seen": 3])
            return state.statistics.keys.sorted()
        }
        #expect(try names(withMean: true, withStd: true) == ["mean", "scale", "var"])
        #expect(try names(withMean: false, withStd: true) == ["mean", "scale", "var"])
        #expect(try names(withMean: true, withStd: false) == ["mean"])
        #expect(try names(withMean: false, withStd: false) == [])
        #expect(
            StandardScaleStage(featureCount: 2).saveState() == StageState(kind: "standard_scale", stateVersion: 1, counters: ["n_samples_seen": 0]))
    }

    /// sklearn's formula on numbers small enough to check by hand, and a constant column scaled by 1.
    @Test func trainUsesTheUpdatedStatisticsAndAConstantColumnIsScaledByOne() throws {
        let stage = StandardScaleStage(featureCount: 2)
        var first = FeatureBatch(rowsOf: [[1, 4], [3, 4]], features: 2)
        try stage.process(&first, mode: .train)
        #expect(first.values == [-1, 0, 1, 0])
        var second = FeatureBatch(rowsOf: [[5, 4], [7, 4]], features: 2)
        try stage.process(&second, mode: .train)
        // mean 4, var ((9 + 1 + 1 + 9) / 4) = 5 for column 0; column 1 constant: mean 4, var 0, scale 1.
        let state = stage.saveState()
        #expect(state.statistics["mean"] == [4, 4])
        #expect(state.statistics["var"] == [5, 0])
        #expect(state.statistics["scale"] == [Double(5).squareRoot(), 1])
        var infer = FeatureBatch(rowsOf: [[4, 6]], features: 2)
        try stage.process(&infer, mode: .infer)
        #expect(infer.values == [0, 2])
    }

    @Test func inferBeforeAnyFitIsTheIdentity() throws {
        let stage = StandardScaleStage(featureCount: 2)
        var batch = FeatureBatch(rowsOf: [[1e4, -3]], features: 2)
        try stage.process(&batch, mode: .infer)
        #expect(batch.values == [1e4, -3])
    }

    @Test func restoreRefusesInconsistentStates() {
        func refusal(_ state: StageState, withStd: Bool = true) -> String? {
            do {
                try StandardScaleStage(featureCount: 2, withStd: withStd).restoreState(state)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let fitted = StageState(
            kind: "standard_scale", stateVersion: 1, statistics: ["mean": [1, 2], "var": [1, 0]], counters: ["n_samples_seen": 4])
        #expect(refusal(fitted) == nil)
        var negative = fitted
        negative.statistics["var"] = [1, -1]
        #expect(refusal(negative) == "cannot restore standard_scale state: 'var' holds a negative value")
        var noVariance = fitted
        noVariance.statistics["var"] = nil
        #expect(refusal(noVariance) == "cannot restore standard_scale state: missing 'var'")
        #expect(refusal(noVariance, withStd: false) == nil)
        var seenBelowZero = fitted
        seenBelowZero.counters["n_samples_seen"] = -1
        #expect(refusal(seenBelowZero) == "cannot restore standard_scale state: 'n_samples_seen' is negative")
        var newer = fitted
        newer.stateVersion = 2
        #expect(refusal(newer) == "cannot restore standard_scale state: state version 2 is newer than this normd understands (1)")
    }

    /// A restored stage continues exactly as the uninterrupted one (Chan's merge from the saved
    /// count, mean and variance), and a saturated n_samples_seen does not trap.
    @Test func aRestoredStageContinuesLikeTheUninterruptedOne() throws {
        let rows: [[Float]] = (0..<24).map { r in [Float(r % 7) * 1.5 + 1e4, Float((r * 5) % 11) - 3] }
        let whole = StandardScaleStage(featureCount: 2), resumed = StandardScaleStage(featureCount: 2)
        var a = FeatureBatch(rowsOf: Array(rows[0..<12]), features: 2), b = FeatureBatch(rowsOf: Array(rows[12...]), features: 2)
        try whole.process(&a, mode: .train)
        try resumed.restoreState(whole.saveState())
        var b2 = b
        try whole.process(&b, mode: .train)
        try resumed.process(&b2, mode: .train)
        #expect(b.values == b2.values)
        #expect(whole.saveState() == resumed.saveState())

        var saturated = whole.saveState()
        saturated.counters["n_samples_seen"] = .max
        try resumed.restoreState(saturated)
        var c = FeatureBatch(rowsOf: Array(rows[0..<4]), features: 2)
        try resumed.process(&c, mode: .train)
        #expect(resumed.saveState().counters["n_samples_seen"] == .max)
    }
}
