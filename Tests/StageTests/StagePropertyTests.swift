import NormCore
import NormTesting
import StageKit
import Testing

/// Properties every stage has, whatever its formula. The contract every stage kind keeps, built-in
/// or loaded (state round trip through a real state file, pure infer, determinism, width, one-row
/// batches), is NormTesting's `StageConformance`, run here over every built-in configuration and in
/// DynamicStagesTests over the example plugins; the properties below are the built-ins' own.
@Suite struct StagePropertyTests {
    static let width = 4

    @Test(arguments: StageConfig.all)
    func everyBuiltInConfigurationConforms(_ config: StageConfig) throws {
        let failures = StageConformance.check(
            featureCount: Self.width,
            makeStage: {
                try #require(ChainFactory.chain(config.parameters, featureCount: Self.width)).stages[0]
            }, values: { $0 * 20 - 5 })
        #expect(failures == [])
    }

    /// The suite must be able to fail: a stage that changes its state in infer mode is caught.
    @Test func theConformanceSuiteCatchesAnImpureStage() {
        let failures = StageConformance.check(featureCount: 2, makeStage: { LeakyStage(featureCount: 2) })
        #expect(
            failures.map(\.description) == [
                "infer is pure: infer batches changed the fresh stage's state",
                "infer is pure: infer batches changed the trained stage's state",
                "determinism: interleaved infer batches changed the training result",
                "one-row batch: a 1-row train batch changed the state",
            ])
    }

    private func trainedChain(_ config: StageConfig, minTrainingRows: Int = 2) throws -> StageChain {
        let chain = try #require(ChainFactory.chain(config.parameters, featureCount: Self.width, minTrainingRows: minTrainingRows))
        var data = SampleData.mixedScale()
        for var batch in data.mixedScaleBatches(3, rows: 16) { try chain.process(&batch, mode: .train) }
        return chain
    }

    @Test(arguments: StageConfig.all)
    func nonFiniteInputIsRefusedWithItsPositionAndChangesNothing(_ config: StageConfig) throws {
        let chain = try trainedChain(config)
        let before = chain.saveState()
        var data = SampleData.mixedScale(seed: 11)
        var batch = data.mixedScaleBatch(rows: 8)
        batch[5, 2] = -.infinity
        let original = batch
        #expect(throws: StageError.nonFinite(row: 5, column: 2, value: -.infinity)) {
            try chain.process(&batch, mode: .train)
        }
        batch[5, 2] = 1
        batch[3, 1] = .nan
        let error = #expect(throws: StageError.self) { try chain.process(&batch, mode: .train) }
        guard case .nonFinite(let row, let column, let value)? = error else {
            Issue.record("expected StageError.nonFinite, got \(String(describing: error))")
            return
        }
        #expect(row == 3 && column == 1 && value.isNaN)
        #expect(chain.saveState() == before)
        #expect(original.row(0) == batch.row(0))
    }

    @Test(arguments: StageConfig.all)
    func columnsOutsideTheSelectionAreUntouched(_ config: StageConfig) throws {
        let width = 6
        let parameters = config.parameters + [("columns", ConfigNode(.list([.integer(0), .text("2:4"), .integer(-1)])))]
        let chain = try #require(ChainFactory.chain(parameters, featureCount: width))
        var data = SampleData.mixedScale(seed: 3)
        let narrow = data.mixedScaleBatch(rows: 8)
        var wide = FeatureBatch(rows: 8, features: width)
        for row in 0..<8 {
            wide[row, 0] = narrow[row, 0]; wide[row, 2] = narrow[row, 1]; wide[row, 3] = narrow[row, 2]; wide[row, 5] = narrow[row, 3]
            wide[row, 1] = Float(row) + 0.5; wide[row, 4] = -Float(row) * 1e6
        }
        let original = wide
        try chain.process(&wide, mode: .train)
        for row in 0..<8 {
            #expect(wide[row, 1] == original[row, 1] && wide[row, 4] == original[row, 4])
        }
        #expect(wide != original, "the selected columns were normalized")
    }

    @Test(arguments: StageConfig.all)
    func restoringAnotherKindsStateFailsAndKeepsTheState(_ config: StageConfig) throws {
        let chain = try trainedChain(config)
        let before = chain.saveState()
        let kind = chain.stages[0].kind
        let foreignKind = kind == "min_max" ? "batch_norm" : "min_max"
        var foreign = before[0]
        foreign.kind = foreignKind
        #expect(throws: StageError.invalidState(kind: kind, "the saved state belongs to a '\(foreignKind)' stage")) {
            try chain.restoreState([foreign])
        }
        #expect(chain.saveState() == before)
    }

}
