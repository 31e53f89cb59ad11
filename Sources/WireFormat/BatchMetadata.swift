public import NormCore

/// What the output header says about a batch, besides its shape.
///
/// The caller (the pipeline's sink) owns the storage; keep one value per pipeline and refill
/// `sources` with `removeAll(keepingCapacity:)` so building it does not allocate per batch either.
public struct BatchMetadata: Sendable, Equatable {
    /// The pipeline's name from the configuration (`pipeline` key).
    public var pipeline: String
    /// The batch sequence number, per pipeline, from 0 (`batch` key); a consumer sees a gap when a batch is dropped.
    public var batch: UInt64
    /// The mode the batch actually ran in (`mode` key).
    public var mode: Mode
    /// The stage kinds in chain order, e.g. `["batch_renorm", "clip"]` (`stages` key).
    public var stages: [String]
    /// Bumped whenever the running statistics change (restore, train batch) (`stats_version` key).
    public var statsVersion: UInt64
    /// Where the rows came from, in row order (`sources` key).
    public var sources: [SourceSpan]
    /// Why a batch that should have trained ran in infer mode (`downgraded` key, omitted when nil),
    /// e.g. a partial batch below `batch.min_rows`.
    public var downgraded: String?

    public init(pipeline: String, batch: UInt64, mode: Mode, stages: [String], statsVersion: UInt64,
                sources: [SourceSpan], downgraded: String? = nil) {
        self.pipeline = pipeline
        self.batch = batch
        self.mode = mode
        self.stages = stages
        self.statsVersion = statsVersion
        self.sources = sources
        self.downgraded = downgraded
    }
}
