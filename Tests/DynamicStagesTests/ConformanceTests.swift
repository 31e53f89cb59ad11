import NormTesting
import StageKit
import Testing

/// The conformance suite over every stage kind: the built-ins and the example plugins must keep
/// the same promises (state file round trip, pure infer, determinism, width, one-row batches).
@Suite struct ConformanceTests {
    struct Kind: CustomTestStringConvertible, Sendable {
        var yaml: String
        /// Log transforms need x > -1; the others take any finite value.
        var positiveOnly = false
        var testDescription: String { yaml }
    }

    static let kinds: [Kind] = [
        Kind(yaml: "{type: min_max}"),
        Kind(yaml: "{type: min_max, feature_range: [-1, 1], clip: true}"),
        Kind(yaml: "{type: standard_scale}"),
        Kind(yaml: "{type: standard_scale, with_mean: false}"),
        Kind(yaml: "{type: standard_scale, with_std: false}"),
        Kind(yaml: "{type: batch_norm, momentum: 0.9}"),
        Kind(yaml: "{type: batch_norm, virtual_batch_size: 4}"),
        Kind(yaml: "{type: batch_norm, convention: torch}"),
        Kind(yaml: "{type: batch_renorm, renorm_clipping: {rmax: 2, rmin: 0.5, dmax: 1}}"),
        Kind(yaml: "{type: robust_scale}"),
        Kind(yaml: "{type: robust_scale, step: 0.2, eps: 0.001}"),
        Kind(yaml: "{type: log1p}", positiveOnly: true),
        Kind(yaml: "{type: log1p, offset: 2.5}", positiveOnly: true),
        Kind(yaml: "{type: clamp, low: -2, high: .inf, factor: 0.5}"),
    ]

    @Test(arguments: kinds)
    func everyStageKindConforms(_ kind: Kind) throws {
        _ = try StageBuilder.registry() // fails the test, with the reason, when a plugin was not built
        let failures = StageConformance.check(featureCount: 3, makeStage: { try StageBuilder.stage(kind.yaml, features: 3) },
                                              values: kind.positiveOnly ? { $0 * 50 } : { $0 * 20 - 5 })
        #expect(failures == [])
    }

    /// The suite must be able to fail: a stage that changes its state in infer mode is caught.
    @Test func theSuiteCatchesAnImpureStage() {
        let failures = StageConformance.check(featureCount: 2, makeStage: { LeakyStage(featureCount: 2) })
        #expect(failures.map(\.description) == [
            "infer is pure: infer batches changed the fresh stage's state",
            "infer is pure: infer batches changed the trained stage's state",
            "determinism: interleaved infer batches changed the training result",
            "one-row batch: a 1-row train batch changed the state",
        ])
    }
}
