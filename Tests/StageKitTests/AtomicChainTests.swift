import NormCore
import NormTesting
import StageKit
import Testing

@Suite("StageChain is atomic")
struct AtomicChainTests {
    func chain(failing failure: FailingStage.Failure) -> (StageChain, SummingStage, FailingStage, SummingStage) {
        let first = SummingStage(featureCount: 2), second = FailingStage(featureCount: 2, failure: failure)
        let third = SummingStage(featureCount: 2)
        let chain = StageChain(
            links: [
                ChainLink(stage: first, columns: .all(2)), ChainLink(stage: second, columns: .all(2)),
                ChainLink(stage: third, columns: .all(2)),
            ], featureCount: 2)
        return (chain, first, second, third)
    }

    @Test(
        "a stage that throws at position 2 of 3 leaves every stage's statistics as before the batch",
        arguments: [
            (FailingStage.Failure.throwsError, StageError.inStage(index: 1, kind: "failing", .failed(kind: "failing", "boom"))),
            (
                FailingStage.Failure.writesNaN,
                StageError.inStage(index: 1, kind: "failing", .nonFiniteOutput(kind: "failing", row: 1, column: 0, value: .nan))
            ),
            (FailingStage.Failure.poisonsStatistics, StageError.inStage(index: 1, kind: "failing", .nonFiniteStatistics(kind: "failing"))),
        ])
    func failureRollsBack(failure: FailingStage.Failure, expected: StageError) throws {
        let (chain, first, second, third) = chain(failing: failure)
        var warmup = FeatureBatch(rowsOf: [[1, 2], [3, 4]], features: 2)
        _ = try? chain.process(&warmup, mode: .infer)
        let before = chain.saveState()
        var batch = FeatureBatch(rowsOf: [[1, 2], [3, 4]], features: 2)
        do {
            try chain.process(&batch, mode: .train)
            Issue.record("the failing stage did not fail the batch")
        } catch {
            // NaN != NaN, so compare the description for the NaN case.
            #expect(error.description == expected.description)
        }
        #expect(chain.saveState() == before)
        #expect(first.sums == [0, 0] && first.batches == 0)
        #expect(second.learned == [0, 0])
        #expect(third.calls == 1, "the stage after the failing one never saw the batch (only the warm-up)")
        #expect(chain.statsVersion == 0)
    }

    @Test("the failure's description names the position, the kind and the reason")
    func describes() {
        #expect(StageError.inStage(index: 1, kind: "failing", .failed(kind: "failing", "boom")).description == "stages[1] (failing): boom")
        #expect(
            StageError.inStage(index: 0, kind: "p", .nonFiniteOutput(kind: "p", row: 3, column: 2, value: .nan)).description
                == "stages[0] (p): wrote the non-finite value nan at row 3, column 2")
        #expect(
            TrainingDowngrade.stageFailed(.inStage(index: 2, kind: "p", .nonFiniteStatistics(kind: "p"))).description
                == "stage failed: stages[2] (p): its statistics became non-finite")
    }

    @Test("a non-finite output of a stage applied to some columns names the column of the whole row")
    func nonFiniteOutputColumn() throws {
        let nan = FailingStage(featureCount: 2, failure: .writesNaN)
        let chain = StageChain(
            links: [
                ChainLink(stage: nan, columns: ColumnSelection(indices: [1, 3], rowWidth: 4)),
                ChainLink(stage: SummingStage(featureCount: 4), columns: .all(4)),
            ], featureCount: 4)
        var batch = FeatureBatch(rowsOf: [[1, 2, 3, 4], [5, 6, 7, 8]], features: 4)
        do {
            try chain.process(&batch, mode: .train)
            Issue.record("the NaN was not refused")
        } catch {
            #expect(error.description == "stages[0] (failing): wrote the non-finite value nan at row 1, column 1")
        }
    }

    @Test("a successful train batch still updates every stage and bumps stats_version once")
    func successUpdates() throws {
        let first = SummingStage(featureCount: 1), second = SummingStage(featureCount: 1)
        let chain = StageChain(links: [ChainLink(stage: first, columns: .all(1)), ChainLink(stage: second, columns: .all(1))], featureCount: 1)
        var batch = FeatureBatch(rowsOf: [[1], [2]], features: 1)
        try chain.process(&batch, mode: .train)
        #expect(first.sums == [3] && second.sums == [6] && batch.values == [4, 8] && chain.statsVersion == 1)
    }

    /// Writes `value` at `row`, `column` of every batch.
    final class WritingStage: Stage {
        let kind = "writing"
        let stateVersion: UInt32 = 1
        let featureCount: Int
        let trainingRowMultiple = 1
        var fingerprint: [String: String] { [:] }
        let value: Float, row: Int, column: Int
        init(featureCount: Int, value: Float, row: Int, column: Int) {
            self.featureCount = featureCount
            self.value = value
            self.row = row
            self.column = column
        }
        func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) { batch[row, column] = value }
        func saveState() -> StageState { StageState(kind: kind, stateVersion: 1) }
        func restoreState(_ state: StageState) throws(StageError) {}
    }

    @Test(
        "a non-finite value anywhere in a large batch is found: in the 16-lane part and in the tail",
        arguments: [
            (Float.infinity, 5, 3), (-Float.infinity, 0, 0), (Float.nan, 7, 6), (Float.nan, 8, 2), (Float.greatestFiniteMagnitude, 4, 4),
        ])
    func nonFiniteAnywhere(value: Float, row: Int, column: Int) {
        // 9 rows × 7 features = 63 values: three 16-lane chunks and a 15-value tail.
        let writer = WritingStage(featureCount: 7, value: value, row: row, column: column)
        let chain = StageChain(
            links: [ChainLink(stage: writer, columns: .all(7)), ChainLink(stage: SummingStage(featureCount: 7), columns: .all(7))],
            featureCount: 7)
        var batch = FeatureBatch(rowsOf: (0..<9).map { r in (0..<7).map { Float(r * 7 + $0) } }, features: 7)
        do {
            try chain.process(&batch, mode: .train)
            #expect(value.isFinite, "accepted a non-finite value")
        } catch {
            #expect(!value.isFinite)
            #expect(error.description == "stages[0] (writing): wrote the non-finite value \(value) at row \(row), column \(column)")
        }
    }
}
