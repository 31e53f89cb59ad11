import StageKit

/// Checkpoint snapshots: the pipeline thread copies `chain.saveState()` and hands it to a
/// `StateSnapshotSink` — the only checkpoint cost on the data path. Writing happens elsewhere.
extension PipelineEngine {
    /// Starts handing snapshots to `sink` on `cadence`. Call before the first batch.
    public func enableCheckpoints(sink: any StateSnapshotSink, cadence: CheckpointCadence) {
        self.snapshotSink = sink
        self.cadence = cadence
    }

    /// Offers a snapshot if the time trigger has fired; the socket loop calls it on every wake-up,
    /// so an idle pipeline's last changes are saved within `every_seconds` (+ one wake interval).
    public func offerSnapshotIfDue(now: ContinuousClock.Instant = .now) {
        if snapshotSink != nil, cadence.isDue(now: now) { offerSnapshot() }
    }

    /// Offers a snapshot now if anything changed since the last one (at shutdown, after the final
    /// flush, so the last partial batch's statistics are in the final checkpoint).
    public func offerFinalSnapshot() {
        if cadence.hasChanges { offerSnapshot() }
    }

    func recordTrainBatchForCheckpoint() {
        guard snapshotSink != nil else { return }
        if cadence.recordTrainBatch(now: .now) { offerSnapshot() }
    }

    private func offerSnapshot() {
        finishInFlight() // a snapshot reads the chain (the socket loop has finished it already)
        guard let snapshotSink else { return }
        snapshotSink.offer(
            StateSnapshot(
                pipeline: settings.name, states: chain.saveState(), statsVersion: chain.statsVersion,
                syncStep: synchronizer?.chainStep))
        cadence.snapshotTaken()
    }
}
