public import NormCore
public import StageKit

/// A normalized batch on its way out, with what a consumer needs to interpret it.
///
/// This is also what the output header says (WireFormat's `BatchEncoder` encodes it directly, with
/// no copy into a wire-side type): `pipeline`, `batch` (= `sequence`), `mode` and `downgraded` (from
/// `outcome`), `stages` (= `stageKinds`), `stats_version`, `sources` (= `origins`).
public struct PublishedBatch: Sendable, Equatable {
    /// The pipeline's name from the configuration.
    public var pipeline: String
    /// 0, 1, 2, … per pipeline and run; a consumer sees a gap when a batch is dropped.
    public var sequence: UInt64
    /// The mode the batch actually ran in, and why it was downgraded if it was.
    public var outcome: ChainOutcome
    /// The stage kinds in chain order, e.g. `["min_max", "batch_norm"]`.
    public var stageKinds: [String]
    /// Changes whenever the statistics change (train batches, restores).
    public var statsVersion: UInt64
    /// Where the rows came from, in row order.
    public var origins: [RowOrigin]
    /// The stage chain's time for this batch (a failed train batch: both runs).
    public var processDuration: Duration
    /// When the row that completed the batch arrived (a partial batch: its newest row), so the
    /// sink can measure arrival-to-publication latency.
    public var completedAt: ContinuousClock.Instant
    /// `sync: {step, members}` for a train batch of a sync group's step; `nil` otherwise.
    public var sync: SyncStamp?

    public init(
        pipeline: String, sequence: UInt64, outcome: ChainOutcome, stageKinds: [String], statsVersion: UInt64,
        origins: [RowOrigin], processDuration: Duration = .zero, completedAt: ContinuousClock.Instant = .now
    ) {
        self.pipeline = pipeline
        self.sequence = sequence
        self.outcome = outcome
        self.stageKinds = stageKinds
        self.statsVersion = statsVersion
        self.origins = origins
        self.processDuration = processDuration
        self.completedAt = completedAt
    }
}

/// Where a pipeline's batches go. The daemon's ZeroMQ output implements it; tests use a collector.
public protocol BatchSink: AnyObject {
    /// Sends one batch; `false` when the output had to drop it (counted by the engine).
    /// May block to apply back-pressure (PUSH), which stops intake and so reaches PULL producers.
    ///
    /// The batch is lent for the call, `inout` so that a sink can keep its storage instead of
    /// copying it (normd's ZeroMQ output hands it to libzmq, which sends it later from its I/O
    /// thread) and put other storage in its place. The contract:
    /// - after the call `batch.features` is unchanged, and its storage holds at least as many rows
    ///   as before without reallocating (`rowCapacity`), so the caller refills it without allocating;
    /// - its rows and values are unspecified: read what you need (e.g. `batch.rows`) before the call,
    ///   and nothing of the batch after it;
    /// - a sink that keeps the batch (or a copy) must not expect the caller to leave it alone: it
    ///   keeps its own value, which copy-on-write separates from the caller's next writes.
    func publish(_ batch: inout FeatureBatch, _ info: PublishedBatch) -> Bool
}
