public import NormCore
public import Pipeline

/// Rows held in memory, the shape a decoded message has, for driving a `PipelineEngine` without a
/// socket or a codec.
public struct InMemoryRows: IncomingRows {
    public var values: [[Float]]
    public var producer: String?
    public var seq: UInt64?

    public init(values: [[Float]], producer: String? = nil, seq: UInt64? = nil) {
        self.values = values
        self.producer = producer
        self.seq = seq
    }

    public var rows: Int { values.count }
    public var features: Int { values.first?.count ?? 0 }

    public func firstNonFiniteCell() -> (row: Int, column: Int)? {
        for (r, row) in values.enumerated() { if let c = row.firstIndex(where: { !$0.isFinite }) { return (r, c) } }
        return nil
    }

    public func isRowFinite(_ row: Int) -> Bool { values[row].allSatisfy(\.isFinite) }

    public func copyRows(_ range: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        var i = 0
        for row in range { for v in values[row] { destination[i] = v; i += 1 } }
    }
}

/// A `BatchSink` that keeps every published batch with its header, and can refuse (as a full
/// output queue does) when `accept` is false.
public final class CollectingSink: BatchSink {
    public private(set) var batches: [(FeatureBatch, PublishedBatch)] = []
    public var accept = true

    public init() {}

    public func publish(_ batch: inout FeatureBatch, _ info: PublishedBatch) -> Bool {
        guard accept else { return false }
        batches.append((batch, info)) // a copy: the engine's next writes to `batch` leave it alone
        return true
    }
}
