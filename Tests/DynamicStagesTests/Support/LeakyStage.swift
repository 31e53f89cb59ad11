import NormCore
import StageKit

/// A deliberately broken stage (counts infer batches as if they were training) to prove the
/// conformance suite reports what it claims to check.
final class LeakyStage: Stage {
    let kind = "leaky"
    let stateVersion: UInt32 = 1
    let featureCount: Int
    let trainingRowMultiple = 1
    let fingerprint = ["kind": "leaky"]
    private var batches: Int64 = 0

    init(featureCount: Int) { self.featureCount = featureCount }

    func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        guard batch.features == featureCount else { throw StageError.widthMismatch(expected: featureCount, got: batch.features) }
        batches += 1
    }

    func saveState() -> StageState { StageState(kind: kind, stateVersion: stateVersion, counters: ["batches": batches]) }

    func restoreState(_ state: StageState) throws(StageError) { batches = try state.counter("batches") }
}
