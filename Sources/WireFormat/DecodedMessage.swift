public import NpyFormat

/// The rows of one decoded message, still in the message's own bytes.
///
/// Valid until the next `decode` on the same decoder and while the transport still holds the frames:
/// `payload` points into a frame (tensor, npy) or into the decoder's scratch buffer (json). Copy the
/// rows you keep with ``copyRows(_:into:)``; it handles float64 payloads and unaligned frames
/// (a small ZeroMQ message can start at any address).
public struct DecodedMessage {
    /// Number of rows; 0 for an empty message (`shape [0, features]`).
    public var rows: Int
    /// Width of every row (always the decoder's feature count).
    public var features: Int
    /// The payload's element type; float64 is converted to Float32 when copied.
    public var elementType: NpyElementType
    /// Little-endian, C-order rows: `rows × features × elementType.byteCount` bytes.
    public var payload: UnsafeRawBufferPointer
    /// The producer's message sequence number, if it sent one (for gap counting).
    public var seq: UInt64?
    /// The producer's name, if it sent one.
    public var producer: String?
    /// The topic frame's bytes when the message had one (PUB/SUB), for logs.
    public var topic: UnsafeRawBufferPointer?

    public init(
        rows: Int, features: Int, elementType: NpyElementType, payload: UnsafeRawBufferPointer,
        seq: UInt64? = nil, producer: String? = nil, topic: UnsafeRawBufferPointer? = nil
    ) {
        precondition(payload.count == rows * features * elementType.byteCount, "payload must hold rows × features elements")
        self.rows = rows
        self.features = features
        self.elementType = elementType
        self.payload = payload
        self.seq = seq
        self.producer = producer
        self.topic = topic
    }

    /// The topic as text (lossy UTF-8), for logs; nil when the message had no topic frame.
    public var topicText: String? {
        topic.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value at `row`, `column` as Float32 (diagnostics and tests; not for hot loops).
    public func value(row: Int, column: Int) -> Float {
        precondition(row >= 0 && row < rows && column >= 0 && column < features, "(\(row), \(column)) is outside \(rows)×\(features)")
        let index = row * features + column
        switch elementType {
        case .float32: return payload.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
        case .float64: return Float(payload.loadUnaligned(fromByteOffset: index * 8, as: Double.self))
        }
    }

    /// Whether every value of `row` is finite *as Float32* (a float64 beyond ±3.4e38 becomes ∞ when
    /// copied, so it counts as non-finite here too).
    public func isRowFinite(_ row: Int) -> Bool {
        precondition(row >= 0 && row < rows, "row \(row) is outside 0..<\(rows)")
        let first = row * features
        switch elementType {
        case .float32:
            return Self.allFinite32(payload.baseAddress! + first * 4, count: features)
        case .float64:
            for index in first..<(first + features)
            where !Float(payload.loadUnaligned(fromByteOffset: index * 8, as: Double.self)).isFinite {
                return false
            }
            return true
        }
    }

    /// The first non-finite value in row-major order, if any, as it would be copied (Float32).
    public func firstNonFinite() -> (row: Int, column: Int, value: Float)? {
        // One branch-free pass over the whole payload (the common, all-finite case), then locate.
        if elementType == .float32, rows > 0, Self.allFinite32(payload.baseAddress!, count: rows * features) { return nil }
        for row in 0..<rows where !isRowFinite(row) {
            for column in 0..<features {
                let value = value(row: row, column: column)
                if !value.isFinite { return (row, column, value) }
            }
        }
        return nil
    }

    /// Whether none of `count` little-endian float32 values at `start` (any alignment) has all exponent
    /// bits set (±∞, NaN): `Float32Finiteness`, branch-free over 16-lane vectors.
    private static func allFinite32(_ start: UnsafeRawPointer, count: Int) -> Bool {
        Float32Finiteness.allFinite(start, count: count)
    }

    /// Copies rows `range` as Float32 into the start of `destination`
    /// (which must hold at least `range.count × features` values).
    ///
    /// float32 is one `memcpy` (alignment does not matter to it); float64 is converted element by
    /// element with unaligned loads.
    public func copyRows(_ range: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) are outside 0..<\(rows)")
        let count = range.count * features
        precondition(destination.count >= count, "destination holds \(destination.count) values, \(count) needed")
        guard count > 0, let target = destination.baseAddress else { return }
        let first = range.lowerBound * features
        switch elementType {
        case .float32:
            UnsafeMutableRawPointer(target).copyMemory(from: payload.baseAddress! + first * 4, byteCount: count * 4)
        case .float64:
            for index in 0..<count {
                target[index] = Float(payload.loadUnaligned(fromByteOffset: (first + index) * 8, as: Double.self))
            }
        }
    }

    /// ``copyRows(_:into:)`` and the finiteness check of the copied values in one pass over the payload
    /// (`Float32Finiteness`): returns whether every copied value is finite as Float32 — the same test as
    /// ``isRowFinite(_:)``. All the rows are copied either way; on `false` the caller discards them.
    public func copyRowsIfFinite(_ range: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) -> Bool {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) are outside 0..<\(rows)")
        let count = range.count * features
        precondition(destination.count >= count, "destination holds \(destination.count) values, \(count) needed")
        guard count > 0, let target = destination.baseAddress else { return true }
        let first = range.lowerBound * features
        switch elementType {
        case .float32:
            return Float32Finiteness.copyAllFinite(from: payload.baseAddress! + first * 4, to: target, count: count)
        case .float64:
            return Float32Finiteness.convertAllFinite(fromFloat64: payload.baseAddress! + first * 8, to: target, count: count)
        }
    }
}
