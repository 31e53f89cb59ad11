public import NormCore

/// Groups rows into mini-batches of a fixed size, in arrival order, splitting a message's rows
/// across batches as needed, and remembers where every row came from.
///
/// The batch storage is allocated once at full size and reused; a full batch is handed to `emit`
/// in place and the batcher starts over afterwards.
///
/// While rows wait, `batch` stays at its full `batchSize` rows and `pendingRows` says how many are
/// filled: a message's rows are written straight into their place. (Growing the batch per message
/// with `FeatureBatch.reset(rows:)` zero-filled the new rows before the copy overwrote them — a
/// second pass over every row.) The batch is cut to `pendingRows` only when it is handed on, which
/// for a full batch changes nothing.
public struct RowBatcher {
    public let batchSize: Int
    public let features: Int
    @usableFromInline var batch: FeatureBatch
    @usableFromInline var origins: [RowOrigin] = []
    /// When the oldest row still waiting arrived (what `max_latency` is measured from); a
    /// `ClockStamp`, not an `Instant`, so this struct's layout is fixed (see `ClockStamp`).
    public var oldest: ClockStamp? { _oldest }
    @usableFromInline var _oldest: ClockStamp?
    /// `oldest` as an instant.
    public var oldestArrival: ContinuousClock.Instant? { oldest?.instant }
    /// Rows waiting, at the start of `batch`.
    public var pendingRows: Int { _pendingRows }
    @usableFromInline var _pendingRows = 0

    public init(batchSize: Int, features: Int) {
        precondition(batchSize > 0)
        self.batchSize = batchSize
        self.features = features
        self.batch = FeatureBatch(rows: batchSize, features: features)
        self.origins.reserveCapacity(batchSize)
    }

    /// Appends `rows` of `message` and calls `emit` for every batch that fills up.
    public mutating func append(
        _ message: some IncomingRows, rows: Range<Int>, input: Int, arrival: ContinuousClock.Instant,
        emit: (inout FeatureBatch, [RowOrigin]) -> Void
    ) {
        var rest = rows
        let arrival = ClockStamp(arrival)
        while fill(message, rows: &rest, input: input, arrival: arrival) { flush(emit: emit) }
    }

    /// Copies as many of `rows` as fit into the batch (one row copy and one origin), removes them from
    /// `rows`, and returns true when the batch is now full: it must be handed on (`flush` or
    /// `takeWaiting`) before the next `fill`. Calls nothing back, unlike `append`: the engine keeps
    /// the batcher inside its `MessageIntake` and runs the chain outside that access.
    public mutating func fill(
        _ message: some IncomingRows, rows: inout Range<Int>, input: Int, arrival: ClockStamp
    ) -> Bool {
        guard !rows.isEmpty else { return false }
        precondition(pendingRows < batchSize, "a full batch must be handed on before more rows come in")
        let features = self.features
        if pendingRows == 0 { _oldest = arrival }
        let next = rows.lowerBound
        let take = min(batchSize - pendingRows, rows.count)
        let start = pendingRows
        batch.withUnsafeMutableValues { values in
            let destination = UnsafeMutableBufferPointer(rebasing: values[(start * features)..<((start + take) * features)])
            message.copyRows(next..<(next + take), into: destination)
        }
        origins.append(
            RowOrigin(
                input: input, producer: message.producer, seq: message.seq,
                rows: start..<(start + take), messageRows: next..<(next + take)))
        _pendingRows = start + take
        rows = (next + take)..<rows.upperBound
        return pendingRows == batchSize
    }

    /// What `fillWhole` did with a message.
    public enum WholeFill: Equatable {
        /// All its rows are waiting in the batch, which is not full yet.
        case batched
        /// All its rows are in the batch, which is now full: hand it on before the next fill.
        case filled
        /// Nothing was taken: the message has no rows, does not fit in what is left of the batch, or
        /// has a non-finite value. The caller takes the general path (`fill` after its own check).
        case declined
    }

    /// The common case in one pass: all of a message's rows fit in the waiting batch, so they are
    /// copied into place and checked finite together (`IncomingRows.copyRowsIfFinite`), and only
    /// kept — counted as waiting, given their origin — when every value is finite. A message with a
    /// non-finite value leaves the batcher exactly as it was (its copy lies beyond `pendingRows`,
    /// where the next fill overwrites it), so its refusal, located by the caller's own check, is the
    /// same as without this path. A message that does not fit is declined rather than split: the
    /// check must cover the whole message before any of its rows can reach a batch that is handed on.
    @inlinable
    public mutating func fillWhole(_ message: some IncomingRows, input: Int, arrival: ClockStamp) -> WholeFill {
        let count = message.rows
        let start = pendingRows
        guard count > 0, count <= batchSize - start else { return .declined }
        let finite = withWaitingSlots(start..<(start + count)) { message.copyRowsIfFinite(0..<count, into: $0) }
        guard finite else { return .declined }
        if start == 0 { _oldest = arrival }
        origins.append(
            RowOrigin(input: input, producer: message.producer, seq: message.seq, rows: start..<(start + count), messageRows: 0..<count))
        _pendingRows = start + count
        return pendingRows == batchSize ? .filled : .batched
    }

    /// Calls `fill` with the values of batch rows `rows`, returning what it returns.
    ///
    /// Not generic and not inlinable, so that `FeatureBatch.withUnsafeMutableValues` is called here,
    /// where its exported `Bool` specialization is used: inlined into a caller in another module
    /// (normd's specialization of `fillWhole`), the call was to the unspecialized function, which
    /// looked up `Array<Float>`'s generic metadata at run time on every message.
    @usableFromInline
    mutating func withWaitingSlots(_ rows: Range<Int>, _ fill: (UnsafeMutableBufferPointer<Float>) -> Bool) -> Bool {
        let features = self.features
        return batch.withUnsafeMutableValues { values in
            fill(UnsafeMutableBufferPointer(rebasing: values[(rows.lowerBound * features)..<(rows.upperBound * features)]))
        }
    }

    /// Moves the waiting rows and their origins out into `batch` and `origins` by exchanging storage
    /// with them (pass an empty `FeatureBatch` and `[]`: no copy, no allocation). The batcher is empty
    /// until `restart(reusing:origins:)` gives the storage back. This lets the engine run the chain
    /// and the sink on the batch without holding an access to the batcher's owner.
    public mutating func takeWaiting(into batch: inout FeatureBatch, origins: inout [RowOrigin]) {
        self.batch.reset(rows: pendingRows)
        swap(&self.batch, &batch)
        swap(&self.origins, &origins)
        _oldest = nil
        _pendingRows = 0
    }

    /// Takes back the storage `takeWaiting` handed out, emptied but with its capacity, so the next
    /// batch fills it without allocating; `batch` and `origins` get the empty values back.
    public mutating func restart(reusing batch: inout FeatureBatch, origins: inout [RowOrigin]) {
        precondition(pendingRows == 0 && self.origins.isEmpty, "rows arrived while a batch was out")
        swap(&self.batch, &batch)
        swap(&self.origins, &origins)
        self.batch.reset(rows: batchSize) // full size again: changes nothing after a full batch
        self.origins.removeAll(keepingCapacity: true)
    }

    /// Hands over whatever is waiting, full or not; does nothing when empty.
    public mutating func flush(emit: (inout FeatureBatch, [RowOrigin]) -> Void) {
        guard pendingRows > 0 else { return }
        batch.reset(rows: pendingRows)
        emit(&batch, origins)
        batch.reset(rows: batchSize)
        origins.removeAll(keepingCapacity: true)
        _oldest = nil
        _pendingRows = 0
    }

    /// Takes over `other`'s waiting rows, in order and with their origins (a reload that changed
    /// `batch.size`: no accepted row is lost or batched twice), and calls `emit` for every batch that
    /// fills up at this batcher's size. The rows keep `other`'s oldest arrival, so `max_latency`
    /// still counts from the first of them (a row that moves into a later batch is flushed early, never late).
    public mutating func takePending(from other: RowBatcher, emit: (inout FeatureBatch, [RowOrigin]) -> Void) {
        precondition(other.features == features)
        let features = self.features
        for origin in other.origins {
            var next = origin.rows.lowerBound
            while next < origin.rows.upperBound {
                if pendingRows == 0 { _oldest = other._oldest }
                let take = min(batchSize - pendingRows, origin.rows.upperBound - next)
                let start = pendingRows
                _pendingRows = start + take
                let from = next
                other.batch.withUnsafeValues { source in
                    batch.withUnsafeMutableValues { destination in
                        for offset in 0..<(take * features) {
                            destination[start * features + offset] = source[from * features + offset]
                        }
                    }
                }
                let messageStart = origin.messageRows.lowerBound + (next - origin.rows.lowerBound)
                origins.append(
                    RowOrigin(
                        input: origin.input, producer: origin.producer, seq: origin.seq,
                        rows: start..<(start + take), messageRows: messageStart..<(messageStart + take)))
                next += take
                if pendingRows == batchSize { flush(emit: emit) }
            }
        }
    }
}
