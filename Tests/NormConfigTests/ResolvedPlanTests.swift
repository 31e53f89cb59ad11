import BuiltinStages
import NormConfig
import NormCore
import StageKit
import Testing

/// Validation returns the resolved plan: per pipeline, each stage bound to its parsed parameters and
/// columns, with an identity (pipeline, position, kind, columns, fingerprint) a reload can compare,
/// and chains built from it without the configuration or the registry.
@Suite struct ResolvedPlanTests {
    private func plan(_ stages: String, features: Int = 3) throws -> NormdConfiguration {
        let yaml = """
            pipelines:
              - name: p
                features: \(features)
                batch: {size: 8}
                stages: \(stages)
            """
        let result = NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry())
        return try #require(result.configuration, "\(result.issues)")
    }

    @Test func eachStagePlanNamesItsPipelinePositionKindColumnsAndFingerprint() throws {
        let plans = try plan("[{type: min_max}, {type: batch_norm, convention: torch, columns: [0, 2]}]").stagePlans
        #expect(
            plans.map(\.identity.description) == [
                "pipeline 'p', stages[0] (min_max), columns 0:3 of 3, {convention=sklearn, featureCount=3, kind=min_max}",
                "pipeline 'p', stages[1] (batch_norm), columns 0,2 of 3, "
                    + "{convention=torch, featureCount=2, kind=batch_norm, track_running_stats=true, virtual_batch_size=none}",
            ])
        #expect(plans[1].columns == ColumnSelection(indices: [0, 2], rowWidth: 3))
        #expect(
            plans[1].fingerprint == [
                "kind": "batch_norm", "convention": "torch", "featureCount": "2",
                "virtual_batch_size": "none", "track_running_stats": "true",
            ])
    }

    @Test func theSameFileResolvesToEqualPlans() throws {
        let stages = "[{type: batch_renorm, renorm_clipping: {rmax: 3}}, {type: min_max, feature_range: [-1, 1]}]"
        #expect(try plan(stages).stagePlans == plan(stages).stagePlans)
    }

    /// Settings outside the fingerprint (momentum; batch_norm's epsilon, which does not change the
    /// stored statistics) keep the identity — the statistics carry over — but make the plans differ.
    /// batch_renorm stores √(var + ε) averages, so its epsilon is in the fingerprint; so are the
    /// columns, the convention and the ghost-batch size.
    @Test(arguments: [
        ("[{type: batch_norm, momentum: 0.99}]", "[{type: batch_norm, momentum: 0.9}]", true),
        ("[{type: batch_norm, epsilon: 0.001}]", "[{type: batch_norm, epsilon: 0.01}]", true),
        ("[{type: batch_norm, convention: torch, eps: 0.00001}]", "[{type: batch_norm, convention: torch, eps: 0.001}]", true),
        ("[{type: min_max, clip: false}]", "[{type: min_max, clip: true}]", true),
        ("[{type: batch_renorm, epsilon: 0.001}]", "[{type: batch_renorm, epsilon: 0.01}]", false),
        ("[{type: batch_norm}]", "[{type: batch_norm, columns: [0, 1]}]", false),
        ("[{type: batch_norm}]", "[{type: batch_norm, convention: torch}]", false),
        ("[{type: batch_norm, virtual_batch_size: 2}]", "[{type: batch_norm, virtual_batch_size: 4}]", false),
    ])
    func aChangedSettingKeepsOrChangesTheIdentity(before: String, after: String, sameIdentity: Bool) throws {
        let old = try plan(before).stagePlans[0], new = try plan(after).stagePlans[0]
        #expect((old.identity == new.identity) == sameIdentity)
        #expect(old != new)
    }

    /// Each chain built from a plan has its own fresh stages: training one leaves the next untouched.
    @Test func everyChainFromAPlanStartsFresh() throws {
        let pipeline = try #require(try plan("[{type: min_max}, {type: batch_norm}]").pipelines.first)
        let first = try pipeline.makeChain()
        let initial = first.saveState()
        var batch = FeatureBatch(rows: 4, features: 3, values: (0..<12).map { Float($0) * 0.5 - 2 })
        try first.process(&batch, mode: .train)
        #expect(first.saveState() != initial)

        let second = try pipeline.makeChain()
        #expect(second.saveState() == initial)
        #expect(zip(first.stages, second.stages).allSatisfy { $0 !== $1 })
        #expect(second.stages.map(\.kind) == ["min_max", "batch_norm"])
        #expect(second.minTrainingRows == 2)
    }
}
