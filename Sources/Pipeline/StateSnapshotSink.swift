public import StageKit

/// A copy of one pipeline's statistics, taken on the pipeline's thread between two batches.
public struct StateSnapshot: Sendable, Equatable {
    public var pipeline: String
    /// `chain.saveState()`: one entry per stage, in order.
    public var states: [StageState]
    /// The chain's `statsVersion` when the copy was taken (tells a newer snapshot from an older one).
    public var statsVersion: UInt64
    /// The sync group's step these statistics are at (`sync:` pipelines), recorded as `sync_step`.
    public var syncStep: UInt64?

    public init(pipeline: String, states: [StageState], statsVersion: UInt64, syncStep: UInt64? = nil) {
        self.pipeline = pipeline
        self.states = states
        self.statsVersion = statsVersion
        self.syncStep = syncStep
    }
}

/// Where a pipeline hands copies of its statistics to be made durable (the checkpoint writer).
///
/// `offer` is called on the pipeline's own thread, between batches: it must only store the snapshot
/// and return — the pipeline's data path waits for it, so any file I/O belongs on another thread.
public protocol StateSnapshotSink: AnyObject, Sendable {
    func offer(_ snapshot: StateSnapshot)
}
