/// Rows a transport decoded from one message, as the pipeline needs to see them.
///
/// The pipeline does not know wire formats or sockets: the composition root makes the wire
/// decoder's output conform. The rows stay in the transport's buffer until they are copied into a
/// batch, so accepting a message costs one copy.
public protocol IncomingRows {
    var rows: Int { get }
    var features: Int { get }
    /// Who sent the message, when the producer says (used for gap counting and `sources`).
    var producer: String? { get }
    /// The producer's own message counter, when it sends one.
    var seq: UInt64? { get }
    /// The first NaN or infinity, by row and column within the message. (Named apart from
    /// `firstNonFinite()`, which `FeatureBatch` and `DecodedMessage` give with the value too, so a
    /// call never depends on the type it is assigned to.)
    func firstNonFiniteCell() -> (row: Int, column: Int)?
    func isRowFinite(_ row: Int) -> Bool
    /// Copies whole rows, row-major, converting to Float32 if the message carried Float64.
    func copyRows(_ range: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>)
    /// `copyRows`, returning whether every copied value is finite (as Float32). The batcher's fast
    /// path: one pass over the rows for the copy and the check that must precede accepting them. All
    /// of `range` is copied either way; on `false` the caller discards the copy.
    func copyRowsIfFinite(_ range: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) -> Bool
}

extension IncomingRows {
    /// Copies, then checks the copy (a conformer with a fused pass overrides this).
    public func copyRowsIfFinite(_ range: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) -> Bool {
        copyRows(range, into: destination)
        return destination.prefix(range.count * features).allSatisfy(\.isFinite)
    }
}

/// A run of batch rows that came from one input message, so a consumer can rejoin labels it keeps by
/// `(producer, seq)`: batch rows `rows` are rows `messageRows` of message `seq` from `producer`.
/// The output header's `sources` list is these, in row order (`input` is not sent).
///
/// A message can be split across two batches (its tail starts the next batch); then each batch has an
/// origin for its part and `messageRows` says which part.
public struct RowOrigin: Sendable, Equatable {
    /// Which configured input the message arrived on.
    public var input: Int
    /// The message's producer, if it named one (JSON `null` in the header otherwise).
    public var producer: String?
    /// The message's sequence number, if it sent one (JSON `null` in the header otherwise).
    public var seq: UInt64?
    /// The rows' positions in the output batch, half-open (`[start, stop]` in JSON).
    public var rows: Range<Int>
    /// The same rows' positions in the producer's message, half-open (`[start, stop]` in JSON).
    public var messageRows: Range<Int>

    public init(input: Int, producer: String?, seq: UInt64?, rows: Range<Int>, messageRows: Range<Int>) {
        precondition(rows.count == messageRows.count, "an origin covers as many batch rows as message rows")
        self.input = input
        self.producer = producer
        self.seq = seq
        self.rows = rows
        self.messageRows = messageRows
    }
}
