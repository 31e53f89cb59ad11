import Foundation
import NormTesting
import StageKit
import Testing

/// The conformance suite over the example plugins, loaded through the C ABI: they must keep the
/// promises the built-ins keep (StageTests' `StagePropertyTests` runs the same suite over those).
@Suite struct ConformanceTests {
    struct Kind: CustomTestStringConvertible, Sendable {
        var yaml: String
        /// Log transforms need x > -1; the others take any finite value.
        var positiveOnly = false
        var testDescription: String { yaml }
    }

    static let kinds: [Kind] = [
        Kind(yaml: "{type: robust_scale}"),
        Kind(yaml: "{type: robust_scale, step: 0.2, eps: 0.001}"),
        Kind(yaml: "{type: log1p}", positiveOnly: true),
        Kind(yaml: "{type: log1p, offset: 2.5}", positiveOnly: true),
        Kind(yaml: "{type: clamp, low: -2, high: .inf, factor: 0.5}"),
    ]

    @Test(arguments: kinds)
    func everyStageKindConforms(_ kind: Kind) throws {
        _ = try StageBuilder.registry() // fails the test, with the reason, when a plugin was not built
        let failures = StageConformance.check(
            featureCount: 3, makeStage: { try StageBuilder.stage(kind.yaml, features: 3) },
            values: kind.positiveOnly ? { $0 * 50 } : { $0 * 20 - 5 })
        #expect(failures == [])
    }
}
