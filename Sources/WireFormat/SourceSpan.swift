/// A run of batch rows that came from one input message, so a consumer can rejoin labels it keeps by
/// `(producer, seq)`: batch rows `rows` are rows `messageRows` of message `seq` from `producer`.
///
/// A message can be split across two batches (its tail starts the next batch); then each batch has a
/// span for its part and `messageRows` says which part.
public struct SourceSpan: Sendable, Equatable {
    /// The message's producer, if it named one (JSON `null` otherwise).
    public var producer: String?
    /// The message's sequence number, if it sent one (JSON `null` otherwise).
    public var seq: UInt64?
    /// Rows of this batch, half-open (`[start, stop]` in JSON).
    public var rows: Range<Int>
    /// Which rows of the original message those are, half-open (`[start, stop]` in JSON).
    public var messageRows: Range<Int>

    public init(producer: String?, seq: UInt64?, rows: Range<Int>, messageRows: Range<Int>) {
        precondition(rows.count == messageRows.count, "a span covers as many batch rows as message rows")
        self.producer = producer
        self.seq = seq
        self.rows = rows
        self.messageRows = messageRows
    }
}
