public import NormCore
public import StageKit

extension PipelineEngine {
    /// Runs a batch through the chain: alone, or — for a train pipeline in a sync group — as one
    /// global step of the group (`StageChain.processSynchronized`), stage by stage with the group's
    /// merged moments. A member that cannot take part (rejoining, or the step was unavailable) runs
    /// the batch in infer mode with its last statistics, flagged `rejoining sync group`: it never
    /// learns on its own.
    /// - Throws: a stage's error after the merge (the chain put every statistic back; the member is
    ///   stale and rejoins), handled by the caller like any failed train batch.
    func runChain(_ batch: inout FeatureBatch) throws(StageError) -> ChainOutcome {
        syncStamp = nil
        guard settings.mode == .train, let synchronizer else {
            return try chain.process(&batch, mode: settings.mode, inputValidated: true) { keepForRetry($0) }
        }
        keepForRetry(batch) // a step the group cannot finish re-runs the original rows
        let version = chain.statsVersion
        let joined = synchronizer.beginStep(chain: chain)
        noteAdoptedStatistics(since: version)
        guard joined else { return try rejoining(&batch) }
        do throws(SyncStepError) {
            let outcome = try chain.processSynchronized(&batch, inputValidated: true) {
                (stage: Int, contribution: MomentContribution) throws(SyncStepError) -> MomentContribution in
                try synchronizer.exchange(stage: stage, contribution)
            }
            syncStamp = synchronizer.finishStep(chain: chain, learned: true)
            return outcome
        } catch {
            _ = synchronizer.finishStep(chain: chain, learned: false)
            switch error {
            case .stage(let stageError): throw stageError
            case .unavailable:
                batch = retryCopy // the chain may have normalized part of it with merged moments
                return try rejoining(&batch)
            }
        }
    }

    /// Lets the sync group's traffic be handled between batches (see `StepSynchronizer.serviceIdle`).
    public func serviceSync() {
        let version = chain.statsVersion
        synchronizer?.serviceIdle(chain: chain)
        noteAdoptedStatistics(since: version)
    }

    /// A member that adopted the group's statistics (a snapshot, when it rejoins) changed them
    /// without a train batch: mark them changed, or a checkpoint — on request, by time, the final
    /// one — would still hold the statistics it replaced until its next train batch.
    private func noteAdoptedStatistics(since version: UInt64) {
        if chain.statsVersion != version { cadence.recordChange(now: .now) }
    }

    private func rejoining(_ batch: inout FeatureBatch) throws(StageError) -> ChainOutcome {
        try chain.process(&batch, mode: .infer, inputValidated: true)
        return ChainOutcome(mode: .infer, downgrade: .rejoiningSyncGroup)
    }
}
