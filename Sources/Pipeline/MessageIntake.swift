/// Everything `PipelineEngine.accept` changes for every message — the counts, the batcher, the
/// producers' `seq` positions, the newest arrival — in one struct, held in one stored property.
///
/// Why one struct: every access to a class's stored `var` costs a dynamic exclusivity check
/// (`swift_beginAccess`/`swift_endAccess`, a thread-local access set), because the compiler cannot
/// prove statically that nothing else accesses the same object. With the fields in separate
/// properties a 1-row message paid about seven such checks (profile: ~7 % of normd's CPU at
/// 16 features × 1-row messages); through `take` it pays one. Within the struct, the fields are
/// checked statically, for free.
///
/// The engine never runs the chain or the sink while an access to this struct is open: a full batch
/// is moved out first (`RowBatcher.takeWaiting`), so `process` may count into `counts` freely.
@usableFromInline
struct MessageIntake {
    @usableFromInline var counts = PipelineCounts()
    @usableFromInline var batcher: RowBatcher
    /// Per-producer `seq` positions; a reload that re-binds the pipeline hands them to its successor.
    @usableFromInline var sequences: SequenceTracker
    /// When the newest accepted message arrived: for a full batch, the row that completed it; for a
    /// partial one, its newest row (published as `PublishedBatch.completedAt`).
    @usableFromInline var lastArrival: ClockStamp?
    /// When the last batch was handed to the sink (`nil` before the first). The arrivals that matter
    /// are raised to at least this: the socket loop stamps a whole burst of messages with one clock
    /// reading taken before the burst, and a message read after a batch that took long to run or to
    /// publish (a PUSH output waiting for its consumer) would otherwise carry a time from before that
    /// wait — its partial batch would look overdue at once. Raised, a stamp is earlier than the
    /// message's read by at most the decode-and-accept time of the messages before it in the burst.
    ///
    /// Only a batch's first row (what `max_latency` counts from) and a published batch's newest row
    /// (`completedAt`) are raised, not every message. (The arrivals here are `ClockStamp`s, not
    /// `ContinuousClock.Instant`s: that resilient type cost value-witness calls per message — ~80 ns
    /// per message in `AcceptCPU` when every arrival was raised — and a run-time layout for this struct.)
    @usableFromInline var notBefore: ClockStamp?

    init(batcher: RowBatcher, sequences: SequenceTracker) {
        self.batcher = batcher
        self.sequences = sequences
    }

    /// Counts an accepted message of which `keptRows` rows will be batched, and observes its `seq`.
    @inlinable
    mutating func admit(_ message: some IncomingRows, keptRows: Int, input: Int, arrival: ClockStamp) {
        if let seq = message.seq {
            switch sequences.observe(input: input, producer: message.producer, seq: seq) {
            case .inOrder: break
            case .gap(let missed):
                counts.sequenceGaps += 1
                // A peer can jump `seq` to 2^64 − 1: the total saturates at Int.max instead of trapping.
                counts.messagesMissed = counts.messagesMissed.saturatingAdd(Int(clamping: missed))
            case .restart:
                counts.sequenceRestarts += 1
            }
            counts.producersEvicted = sequences.evictions
        }
        counts.messagesAccepted += 1
        counts.rowsAccepted += keptRows
        lastArrival = arrival
    }

    /// The whole per-message step of a clean message, in one access: `admit` all of `rows`, then batch
    /// as many as fit. Returns true when the batch filled up: the caller emits it, then batches the rest
    /// of `rows` (what did not fit is left there).
    @usableFromInline
    mutating func take(_ message: some IncomingRows, rows: inout Range<Int>, input: Int, arrival: ClockStamp) -> Bool {
        admit(message, keptRows: rows.count, input: input, arrival: arrival)
        return fill(message, rows: &rows, input: input, arrival: arrival)
    }

    /// `RowBatcher.fill`; the row that starts a batch has its arrival raised to `notBefore`.
    mutating func fill(_ message: some IncomingRows, rows: inout Range<Int>, input: Int, arrival: ClockStamp) -> Bool {
        if batcher.pendingRows == 0, let notBefore, notBefore > arrival {
            return batcher.fill(message, rows: &rows, input: input, arrival: notBefore)
        }
        return batcher.fill(message, rows: &rows, input: input, arrival: arrival)
    }

    /// The per-message step of the common case, in one access: `RowBatcher.fillWhole` copies and checks
    /// the message's rows in one pass, and only a message it took is admitted (counted, its `seq`
    /// observed). `.declined` changes nothing here: the caller checks the message itself and takes
    /// the general path (a refusal, `drop_rows`, or a message split across two batches).
    @inlinable
    mutating func takeWhole(_ message: some IncomingRows, input: Int, arrival: ClockStamp) -> RowBatcher.WholeFill {
        let outcome: RowBatcher.WholeFill
        if batcher.pendingRows == 0, let notBefore, notBefore > arrival {
            outcome = batcher.fillWhole(message, input: input, arrival: notBefore)
        } else {
            outcome = batcher.fillWhole(message, input: input, arrival: arrival)
        }
        if outcome != .declined { admit(message, keptRows: message.rows, input: input, arrival: arrival) }
        return outcome
    }

    /// When the newest accepted row arrived, raised to `notBefore` (a published batch's `completedAt`).
    var newestArrival: ClockStamp? {
        guard let lastArrival, let notBefore else { return lastArrival }
        return max(lastArrival, notBefore)
    }
}
