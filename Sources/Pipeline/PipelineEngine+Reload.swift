import NormCore
public import StageKit

/// A reload's hand-over, on the pipeline's own thread between two batches (nothing is in the chain).
extension PipelineEngine {
    /// Makes `chain` and `settings` the ones the next batch runs with. The counts, batch numbers and
    /// sequence tracking carry on; rows waiting in the batcher stay and go into the next batch of the
    /// new `batch.size` (when that is smaller than what waits, full batches are emitted at once,
    /// through the new chain). The caller has already carried the kept stages' statistics over.
    /// - Precondition: same pipeline name and row width (changing those needs a restart).
    /// Continues the counts, batch numbers and producer `seq` tracking of the engine this one
    /// replaces (a reload that re-binds the pipeline's sockets): counters never reset, batch numbers
    /// keep going up, and a producer that goes on counting is in order — what it sent while the
    /// pipeline was re-bound (to an endpoint nobody read) shows as a gap. Producers are keyed by
    /// input index and name, as always: a producer now on another input index starts over.
    public func resume(counts carried: PipelineCounts, nextBatch next: UInt64, sequences tracked: SequenceTracker? = nil) {
        intake.counts = carried
        intake.counts.outputAtShutdown = nil
        nextBatch = next
        if let tracked {
            intake.sequences = tracked.carried(capacity: max(1, settings.maxProducers))
            intake.counts.producersEvicted = intake.sequences.evictions
        }
        publishCounts()
    }

    /// The per-producer `seq` positions, for a successor engine (`resume`).
    public var sequenceTracker: SequenceTracker { intake.sequences }

    /// The number the next output batch gets.
    public var nextBatchNumber: UInt64 { nextBatch }

    public func replace(chain newChain: StageChain, settings newSettings: Settings) {
        precondition(newChain.featureCount == chain.featureCount && newSettings.name == settings.name)
        finishInFlight() // the socket loop already did; a reload must never overtake a batch
        settings = newSettings
        updateChainThread()
        chain = newChain
        stageKinds = newChain.stages.map(\.kind)
        retryCopy = FeatureBatch(rows: 0, features: newChain.featureCount)
        follower?.applied = nil // the new chain takes the source's statistics before its first batch
        statisticsFeed?.publish(from: newChain)
        // The move happens in a local batcher: `process` counts into `intake`, which must not be
        // under access while it runs. Nothing reads the batcher until it is stored back.
        var resized = RowBatcher(batchSize: newSettings.batchSize, features: newChain.featureCount)
        let waiting = intake.batcher
        resized.takePending(from: waiting) { batch, origins in process(&batch, origins: origins, partial: false) }
        intake.batcher = resized
        publishCounts()
    }
}
