import NormCore
import NormTesting
import StageKit
import Testing

@Suite("StageChain")
struct StageChainTests {
    @Test("a train batch below min_rows runs in infer mode for every stage and is counted")
    func tooFewRowsDowngrades() throws {
        let first = RecordingStage(featureCount: 2), second = RecordingStage(featureCount: 2)
        let chain = StageChain(
            links: [ChainLink(stage: first, columns: .all(2)), ChainLink(stage: second, columns: .all(2))],
            featureCount: 2, minTrainingRows: 2)
        var one = FeatureBatch(rowsOf: [[1, 2]], features: 2)
        let outcome = try chain.process(&one, mode: .train)
        #expect(outcome == ChainOutcome(mode: .infer, downgrade: .tooFewRows(rows: 1, minimum: 2)))
        #expect(first.modes == [.infer] && second.modes == [.infer])
        #expect(chain.downgradedBatches == 1)
        #expect(chain.statsVersion == 0, "statistics did not change")
        var two = FeatureBatch(rowsOf: [[1, 2], [3, 4]], features: 2)
        #expect(try chain.process(&two, mode: .train).mode == .train)
        #expect(chain.statsVersion == 1)
    }

    @Test("a row count a stage's ghost batches do not divide runs in infer mode")
    func rowMultipleDowngrades() throws {
        let ghosted = RecordingStage(featureCount: 1, trainingRowMultiple: 4)
        let chain = StageChain(
            links: [
                ChainLink(stage: RecordingStage(featureCount: 1), columns: .all(1)),
                ChainLink(stage: ghosted, columns: .all(1)),
            ], featureCount: 1)
        var six = FeatureBatch(rowsOf: (0..<6).map { [Float($0)] }, features: 1)
        let outcome = try chain.process(&six, mode: .train)
        #expect(outcome.downgrade == .notRowMultiple(rows: 6, multiple: 4, stage: 1))
        #expect(outcome.downgrade?.description == "6 rows is not a multiple of stages[1].virtual_batch_size (4)")
    }

    @Test("non-finite input is refused before any stage runs")
    func nonFiniteRefused() {
        let stage = RecordingStage(featureCount: 2)
        let chain = StageChain(links: [ChainLink(stage: stage, columns: .all(2))], featureCount: 2)
        var batch = FeatureBatch(rowsOf: [[1, 2], [3, .nan]], features: 2)
        do {
            try chain.process(&batch, mode: .train)
            Issue.record("a NaN was accepted")
        } catch {
            #expect(error.description == "non-finite value nan at row 1, column 1")
        }
        #expect(stage.modes.isEmpty)
        #expect(batch.row(0) == [1, 2], "the batch is left as it came")
    }

    @Test("wrong width is refused with both widths named")
    func widthRefused() {
        let chain = StageChain(links: [ChainLink(stage: RecordingStage(featureCount: 2), columns: .all(2))], featureCount: 2)
        var batch = FeatureBatch(rowsOf: [[1, 2, 3]], features: 3)
        #expect(throws: StageError.widthMismatch(expected: 2, got: 3)) { try chain.process(&batch, mode: .infer) }
    }

    @Test("a column selection leaves the other columns untouched")
    func columnSelection() throws {
        let stage = RecordingStage(featureCount: 3)
        let columns = ColumnSelection(indices: [0, 2, 3], rowWidth: 5)
        let chain = StageChain(links: [ChainLink(stage: stage, columns: columns)], featureCount: 5)
        var batch = FeatureBatch(rowsOf: [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], features: 5)
        try chain.process(&batch, mode: .infer)
        #expect(batch.values == [10, 2, 30, 40, 5, 60, 7, 80, 90, 10])
    }

    @Test("restore is all or nothing")
    func restoreAllOrNothing() throws {
        let a = RecordingStage(featureCount: 1), b = RecordingStage(featureCount: 1)
        let chain = StageChain(links: [ChainLink(stage: a, columns: .all(1)), ChainLink(stage: b, columns: .all(1))], featureCount: 1)
        var batch = FeatureBatch(rowsOf: [[1], [2]], features: 1)
        try chain.process(&batch, mode: .train)
        let good = chain.saveState()
        var broken = good
        broken[1] = StageState(kind: "other", stateVersion: 1)
        a.trainedRows = 99
        #expect(throws: StageError.self) { try chain.restoreState(broken) }
        #expect(a.trainedRows == 99, "the first stage was rolled back to what it held before")
        try chain.restoreState(good)
        #expect(a.trainedRows == 2)
    }
}
