/// Decides when a pipeline's statistics should be copied out for a checkpoint: after every
/// `everyBatches` train batches, or once changed statistics have waited `every`, whichever comes first.
///
/// Only train batches change statistics, so infer batches never make a snapshot due; and a snapshot
/// is never due when nothing changed since the last one (an idle pipeline writes nothing).
public struct CheckpointCadence: Sendable {
    /// 0 disables the batch trigger.
    public let everyBatches: Int
    /// `nil` disables the time trigger.
    public let every: Duration?
    /// Train batches since the last snapshot.
    public private(set) var batchesSinceSnapshot = 0
    /// When the statistics first changed after the last snapshot; `nil` while nothing changed.
    public private(set) var changedSince: ContinuousClock.Instant?

    public init(everyBatches: Int, every: Duration?) {
        self.everyBatches = max(0, everyBatches)
        self.every = every
    }

    /// True when something changed since the last snapshot.
    public var hasChanges: Bool { changedSince != nil }

    /// Records a train batch; returns whether a snapshot is due now.
    public mutating func recordTrainBatch(now: ContinuousClock.Instant) -> Bool {
        batchesSinceSnapshot += 1
        if changedSince == nil { changedSince = now }
        return isDue(now: now)
    }

    /// Records statistics that changed without a train batch — a sync member adopting the group's
    /// snapshot when it rejoins — so the time trigger, a requested snapshot and the final one hold them.
    public mutating func recordChange(now: ContinuousClock.Instant) {
        if changedSince == nil { changedSince = now }
    }

    /// Whether a snapshot is due at `now` (by either trigger).
    public func isDue(now: ContinuousClock.Instant) -> Bool {
        guard let changedSince else { return false }
        if everyBatches > 0 && batchesSinceSnapshot >= everyBatches { return true }
        if let every, now - changedSince >= every { return true }
        return false
    }

    /// When the time trigger fires next, if it is armed (for a loop choosing how long to sleep).
    public var deadline: ContinuousClock.Instant? {
        guard let changedSince, let every else { return nil }
        return changedSince + every
    }

    /// Starts counting again after a snapshot was taken.
    public mutating func snapshotTaken() {
        batchesSinceSnapshot = 0
        changedSince = nil
    }
}
