import NormCore
public import StageKit

/// A reload's hand-over, on the pipeline's own thread between two batches (nothing is in the chain).
extension PipelineEngine {
    /// Makes `chain` and `settings` the ones the next batch runs with. The counts, batch numbers and
    /// sequence tracking carry on; rows waiting in the batcher stay and go into the next batch of the
    /// new `batch.size` (when that is smaller than what waits, full batches are emitted at once,
    /// through the new chain). The caller has already carried the kept stages' statistics over.
    /// - Precondition: same pipeline name and row width (changing those needs a restart).
    /// Continues the counts and batch numbers of the engine this one replaces (a reload that
    /// re-binds the pipeline's sockets): counters never reset, and batch numbers keep going up.
    public func resume(counts carried: PipelineCounts, nextBatch next: UInt64) {
        counts = carried
        counts.outputAtShutdown = nil
        nextBatch = next
        publishCounts()
    }

    /// The number the next output batch gets.
    public var nextBatchNumber: UInt64 { nextBatch }

    public func replace(chain newChain: StageChain, settings newSettings: Settings) {
        precondition(newChain.featureCount == chain.featureCount && newSettings.name == settings.name)
        settings = newSettings
        chain = newChain
        stageKinds = newChain.stages.map(\.kind)
        retryCopy = FeatureBatch(rows: 0, features: newChain.featureCount)
        let waiting = batcher
        batcher = RowBatcher(batchSize: newSettings.batchSize, features: newChain.featureCount)
        follower?.applied = nil // the new chain takes the source's statistics before its first batch
        statisticsFeed?.publish(from: newChain)
        batcher.takePending(from: waiting) { batch, origins in process(&batch, origins: origins, partial: false) }
        publishCounts()
    }
}
