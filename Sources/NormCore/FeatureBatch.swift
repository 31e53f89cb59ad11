/// A mini-batch of feature vectors: `rows × features` Float32 values, row-major and contiguous.
///
/// Row-major matches what NumPy producers send (C order), so a decoded payload is copied into a batch
/// with one `memcpy` and a stage walks each row as a contiguous, vectorizable run of features.
/// The storage is reused across batches (`reset(rows:)` keeps its capacity) so the hot path does not
/// allocate once warm.
public struct FeatureBatch: Sendable, Equatable {
    /// Number of rows (samples) currently in the batch.
    public private(set) var rows: Int
    /// Width of every row.
    public let features: Int
    /// Row-major values; exactly `rows * features` elements.
    public private(set) var values: [Float]

    /// A batch of `rows` zero rows.
    public init(rows: Int, features: Int) {
        precondition(rows >= 0 && features > 0, "FeatureBatch needs rows >= 0 and features > 0")
        self.rows = rows
        self.features = features
        self.values = [Float](repeating: 0, count: rows * features)
    }

    /// A batch over existing row-major values; `values.count` must be `rows * features`.
    public init(rows: Int, features: Int, values: [Float]) {
        precondition(features > 0 && values.count == rows * features, "values.count must equal rows * features")
        self.rows = rows
        self.features = features
        self.values = values
    }

    /// A batch from nested rows (tests and small tools); every row must have the same width.
    public init(rowsOf nested: [[Float]], features: Int) {
        precondition(nested.allSatisfy { $0.count == features }, "every row must have \(features) values")
        self.init(rows: nested.count, features: features, values: nested.flatMap { $0 })
    }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * features + column] }
        set { values[row * features + column] = newValue }
    }

    /// One row as an array (convenience for tests and diagnostics, not for hot loops).
    public func row(_ index: Int) -> [Float] {
        Array(values[(index * features)..<((index + 1) * features)])
    }

    /// Changes the row count, keeping the allocated capacity; new rows are zero.
    public mutating func reset(rows newRows: Int) {
        precondition(newRows >= 0)
        let count = newRows * features
        if count <= values.count {
            values.removeLast(values.count - count)
        } else {
            values.append(contentsOf: repeatElement(0, count: count - values.count))
        }
        rows = newRows
    }

    /// Makes this batch's rows a copy of `source`'s, in this batch's own storage: no allocation once
    /// it has held that many rows. `self = source` would instead share `source`'s storage until the
    /// next write to either, which then allocates.
    public mutating func copyRows(of source: FeatureBatch) {
        precondition(source.features == features, "copying \(source.features)-feature rows into a \(features)-feature batch")
        reset(rows: source.rows)
        values.withUnsafeMutableBufferPointer { destination in
            source.values.withUnsafeBufferPointer { rows in _ = destination.update(fromContentsOf: rows) }
        }
    }

    /// Rows the storage holds without reallocating: `capacity / features` of its values.
    public var rowCapacity: Int { values.capacity / features }

    /// Makes room for `rows` rows without changing the batch (one allocation if it must grow), so
    /// that a later `reset(rows:)` up to that many rows does not reallocate.
    public mutating func reserveCapacity(rows: Int) {
        precondition(rows >= 0)
        values.reserveCapacity(rows * features)
    }

    /// Appends rows given as contiguous row-major values (`count` must be a multiple of `features`).
    public mutating func append(contentsOf rowMajor: UnsafeBufferPointer<Float>) {
        precondition(rowMajor.count % features == 0, "appended values must be whole rows")
        values.append(contentsOf: rowMajor)
        rows += rowMajor.count / features
    }

    /// Gives a hot loop direct access to the row-major storage.
    public func withUnsafeValues<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeBufferPointer(body)
    }

    /// Gives a hot loop direct, mutable access to the row-major storage.
    ///
    /// Specialized here for the batcher's per-message calls (`RowBatcher.fillWhole` returns a `Bool`,
    /// `fill` nothing): called from another module unspecialized, `Array`'s generic code looked up
    /// `Array<Float>`'s metadata at run time on every call (`_swift_getGenericMetadata` and its cache, ~1.5 %
    /// of normd's CPU samples at 128 features × 1-row messages).
    @_specialize(exported:true,where R == Bool)
    @_specialize(exported:true,where R == Void)
    public mutating func withUnsafeMutableValues<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// The first non-finite value in row-major order, if any: `(row, column, value)`.
    public func firstNonFinite() -> (row: Int, column: Int, value: Float)? {
        values.withUnsafeBufferPointer { buffer in
            // Branch-free pass over the exponent bits first (vectorizes); locate only when one is bad.
            let anyNonFinite = buffer.withMemoryRebound(to: UInt32.self) { bits in
                var found: UInt32 = 0
                for word in bits { found |= (word & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
                return found != 0
            }
            guard anyNonFinite else { return nil }
            for index in buffer.indices where !buffer[index].isFinite {
                return (index / features, index % features, buffer[index])
            }
            return nil
        }
    }
}
