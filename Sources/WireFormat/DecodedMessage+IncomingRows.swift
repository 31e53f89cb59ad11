public import Pipeline

/// The decoder's view of a message is what the pipeline consumes. WireFormat depends on Pipeline
/// (it also encodes `PublishedBatch`), so the conformance lives here, next to the type; Pipeline
/// stays free of wire formats.
extension DecodedMessage: IncomingRows {
    public func firstNonFiniteCell() -> (row: Int, column: Int)? {
        firstNonFinite().map { ($0.row, $0.column) }
    }
}
