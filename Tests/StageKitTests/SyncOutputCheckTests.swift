import NormCore
import NormTesting
import StageKit
import Testing

/// A `FailingStage` that trains from merged moments as from its own batch, so a synchronized step
/// can fail the ways a plain one does.
private final class SynchronizedFailingStage: MomentSynchronizedStage {
    let inner: FailingStage
    init(featureCount: Int, failure: FailingStage.Failure = .throwsError) { inner = FailingStage(featureCount: featureCount, failure: failure) }
    var kind: String { inner.kind }
    var stateVersion: UInt32 { inner.stateVersion }
    var featureCount: Int { inner.featureCount }
    var trainingRowMultiple: Int { 1 }
    var fingerprint: [String: String] { inner.fingerprint }
    var contributesExtremes: Bool { false }
    func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) { try inner.process(&batch, mode: mode) }
    func train(_ batch: inout FeatureBatch, merged: MomentContribution) throws(StageError) { try inner.process(&batch, mode: .train) }
    func saveState() -> StageState { inner.saveState() }
    func restoreState(_ state: StageState) throws(StageError) { try inner.restoreState(state) }
}

/// A synchronized step checks each stage's output before the next stage's moments leave the member,
/// either with a pass of its own or — when the next stage measures every column — through those
/// moments (finite exactly when every value is). Either way the step fails with the error a plain
/// train batch gets, every statistic is put back, and the group never sees the non-finite values.
@Suite("Synchronized steps refuse a non-finite output")
struct SyncOutputCheckTests {
    /// Runs one synchronized step of `links` over a 2-row batch of `width` columns with an identity
    /// exchange; returns the error's description and how many stages reached the exchange.
    func step(_ links: [ChainLink], width: Int) -> (error: String?, exchanged: [Int], unchanged: Bool) {
        let chain = StageChain(links: links, featureCount: width)
        let before = chain.saveState()
        var batch = FeatureBatch(rows: 2, features: width, values: (0..<(2 * width)).map { Float($0) })
        var exchanged: [Int] = []
        var message: String?
        do throws(SyncStepError) {
            try chain.processSynchronized(&batch) { (stage: Int, contribution: MomentContribution) throws(SyncStepError) -> MomentContribution in
                exchanged.append(stage)
                #expect(contribution.isFinite, "stage \(stage) would have sent non-finite moments")
                return contribution
            }
        } catch {
            message = error.description
        }
        return (message, exchanged, chain.saveState() == before)
    }

    @Test("the next stage measures every column: caught through its moments, before they are sent")
    func deferredToTheNextStage() {
        let result = step(
            [
                ChainLink(stage: SynchronizedFailingStage(featureCount: 3, failure: .writesNaN), columns: .all(3)),
                ChainLink(stage: SynchronizedFailingStage(featureCount: 3), columns: .all(3)),
            ], width: 3)
        #expect(result.error == "stages[0] (failing): wrote the non-finite value nan at row 1, column 0")
        #expect(result.exchanged == [0])
        #expect(result.unchanged)
    }

    @Test("a stage on some columns followed by one on all: the column of the whole row is named")
    func partialStageDeferred() {
        let result = step(
            [
                ChainLink(
                    stage: SynchronizedFailingStage(featureCount: 2, failure: .writesNaN), columns: ColumnSelection(indices: [1, 3], rowWidth: 4)),
                ChainLink(stage: SynchronizedFailingStage(featureCount: 4), columns: .all(4)),
            ], width: 4)
        #expect(result.error == "stages[0] (failing): wrote the non-finite value nan at row 1, column 1")
        #expect(result.exchanged == [0])
        #expect(result.unchanged)
    }

    @Test("the next stage measures some columns only: the stage's own pass catches it")
    func checkedByItsOwnPass() {
        let result = step(
            [
                ChainLink(stage: SynchronizedFailingStage(featureCount: 3, failure: .writesNaN), columns: .all(3)),
                ChainLink(stage: SynchronizedFailingStage(featureCount: 1), columns: ColumnSelection(indices: [2], rowWidth: 3)),
            ], width: 3)
        #expect(result.error == "stages[0] (failing): wrote the non-finite value nan at row 1, column 0")
        #expect(result.exchanged == [0])
        #expect(result.unchanged)
    }
}
