import NormCore
import StageKit
import Testing

/// Properties every stage has, whatever its formula.
@Suite struct StagePropertyTests {
    static let width = 4

    private func trainedChain(_ config: StageConfig, minTrainingRows: Int = 2) throws -> StageChain {
        let chain = try #require(ChainFactory.chain(config.parameters, featureCount: Self.width, minTrainingRows: minTrainingRows))
        var data = SampleBatches()
        for var batch in data.batches(3, rows: 16) { try chain.process(&batch, mode: .train) }
        return chain
    }

    @Test(arguments: StageConfig.all)
    func inferNeverChangesState(_ config: StageConfig) throws {
        let chain = try trainedChain(config)
        let before = chain.saveState()
        var data = SampleBatches(seed: 7)
        for rows in [1, 5, 16] {
            var batch = data.batch(rows: rows, shift: 5000)
            try chain.process(&batch, mode: .infer)
        }
        #expect(chain.saveState() == before)
    }

    @Test(arguments: StageConfig.all)
    func oneRowTrainBatchRunsAsInferAndLeavesStateUnchanged(_ config: StageConfig) throws {
        let chain = try trainedChain(config)
        let before = chain.saveState()
        var data = SampleBatches(seed: 9)
        let row = data.batch(rows: 1, shift: 700)
        var trained = row, inferred = row
        let outcome = try chain.process(&trained, mode: .train)
        #expect(outcome.mode == .infer && outcome.downgrade == .tooFewRows(rows: 1, minimum: 2))
        #expect(chain.saveState() == before)
        try chain.process(&inferred, mode: .infer)
        #expect(trained == inferred)
        #expect(chain.downgradedBatches == 1)
    }

    @Test(arguments: StageConfig.all)
    func nonFiniteInputIsRefusedWithItsPositionAndChangesNothing(_ config: StageConfig) throws {
        let chain = try trainedChain(config)
        let before = chain.saveState()
        var data = SampleBatches(seed: 11)
        var batch = data.batch(rows: 8)
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
        var data = SampleBatches(seed: 3)
        let narrow = data.batch(rows: 8)
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
    func saveRestoreRoundTripReproducesStateAndOutputs(_ config: StageConfig) throws {
        let trained = try trainedChain(config)
        let saved = trained.saveState()
        let fresh = try #require(ChainFactory.chain(config.parameters, featureCount: Self.width))
        try fresh.restoreState(saved)
        #expect(fresh.saveState() == saved)
        #expect(fresh.stages[0].fingerprint == trained.stages[0].fingerprint)
        var data = SampleBatches(seed: 5)
        let probe = data.batch(rows: 8, shift: 300)
        for mode in Mode.allCases {
            var a = probe, b = probe
            try trained.process(&a, mode: mode)
            try fresh.process(&b, mode: mode)
            #expect(a == b, "\(mode) outputs after restore")
        }
        #expect(fresh.saveState() == trained.saveState())
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

    @Test(arguments: StageConfig.all)
    func aStageGivenTheWrongWidthThrows(_ config: StageConfig) throws {
        let chain = try trainedChain(config)
        var batch = FeatureBatch(rows: 4, features: Self.width + 1)
        #expect(throws: StageError.widthMismatch(expected: Self.width, got: Self.width + 1)) {
            try chain.stages[0].process(&batch, mode: .train)
        }
    }
}
