public import Pipeline
import StageKit

extension BatchMetadata {
    /// Takes over what the pipeline says about a published batch, reusing `sources`' storage: the
    /// daemon's sink (and the hot-path benchmark, which must measure the same work) calls this once
    /// per batch without allocating.
    public mutating func refill(from info: PublishedBatch) {
        pipeline = info.pipeline
        batch = info.sequence
        mode = info.outcome.mode
        stages = info.stageKinds
        statsVersion = info.statsVersion
        downgraded = info.outcome.downgrade?.description
        sources.removeAll(keepingCapacity: true)
        for origin in info.origins {
            sources.append(SourceSpan(producer: origin.producer, seq: origin.seq, rows: origin.rows, messageRows: origin.messageRows))
        }
    }
}
