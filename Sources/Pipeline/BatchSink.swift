public import NormCore
public import StageKit

/// A normalized batch on its way out, with what a consumer needs to interpret it.
public struct PublishedBatch {
    public var pipeline: String
    /// 0, 1, 2, … per pipeline and run.
    public var sequence: UInt64
    /// The mode the batch actually ran in, and why it was downgraded if it was.
    public var outcome: ChainOutcome
    public var stageKinds: [String]
    /// Changes whenever the statistics change (train batches, restores).
    public var statsVersion: UInt64
    public var origins: [RowOrigin]
    /// The stage chain's time for this batch (a failed train batch: both runs).
    public var processDuration: Duration
    /// When the row that completed the batch arrived (a partial batch: its newest row), so the
    /// sink can measure arrival-to-publication latency.
    public var completedAt: ContinuousClock.Instant
}

/// Where a pipeline's batches go. The daemon's ZeroMQ output implements it; tests use a collector.
public protocol BatchSink: AnyObject {
    /// Sends one batch; `false` when the output had to drop it (counted by the engine).
    /// May block to apply back-pressure (PUSH), which stops intake and so reaches PULL producers.
    func publish(_ batch: FeatureBatch, _ info: PublishedBatch) -> Bool
}
