/// A pipeline re-bound by a reload with another number of inputs gets new meters; they start from
/// the old ones' totals, so no counter a scrape reads ever goes down.
extension PipelineControl {
    /// Copies every total of `previous` (inputs by index, as far as both have them).
    func carry(from previous: PipelineControl) {
        for (mine, theirs) in zip(inputs, previous.inputs) {
            mine.messages.set(theirs.messages.current)
            mine.rows.set(theirs.rows.current)
            mine.bytes.set(theirs.bytes.current)
            for (meter, old) in zip(mine.rejected, theirs.rejected) { meter.set(old.current) }
        }
        for (meter, old) in [
            (statsVersion, previous.statsVersion), (publishedTrain, previous.publishedTrain),
            (publishedInfer, previous.publishedInfer), (lastBatchNanos, previous.lastBatchNanos),
            (outputBlockedNanos, previous.outputBlockedNanos),
        ] {
            meter.set(old.current)
        }
    }
}
