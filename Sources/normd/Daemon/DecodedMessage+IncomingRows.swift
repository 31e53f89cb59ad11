public import Pipeline
public import WireFormat

/// The wire decoder's view of a message is what the pipeline consumes; this is the only place the
/// two meet, so neither module knows the other.
extension DecodedMessage: IncomingRows {
    public func firstNonFinite() -> (row: Int, column: Int)? {
        let found: (row: Int, column: Int, value: Float)? = firstNonFinite()
        return found.map { ($0.row, $0.column) }
    }
}
