import Logging
import NormCore
import NormTesting
import NpyFormat
import Pipeline
import StageKit
import Testing
import WireFormat

/// The one-pass copy and finiteness check (`DecodedMessage.copyRowsIfFinite`, `RowBatcher.fillWhole`):
/// the same verdict as the row-by-row check for every value and position, and a refused message leaves
/// no trace in the batch.
@Suite("Fused copy and finiteness check")
struct FusedCopyCheckTests {
    /// A decoded float32 message over `values` placed `misalignment` bytes past a 16-byte boundary.
    func withMessage<R>(
        _ values: [Float], rows: Int, features: Int, misalignment: Int = 1, _ body: (DecodedMessage) throws -> R
    ) rethrows -> R {
        let bytes = f4(values)
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + misalignment, alignment: 16)
        defer { raw.deallocate() }
        let slice = UnsafeMutableRawBufferPointer(rebasing: raw[misalignment...])
        slice.copyBytes(from: bytes)
        return try body(DecodedMessage(rows: rows, features: features, elementType: .float32, payload: UnsafeRawBufferPointer(slice)))
    }

    /// Bit patterns at the edge of finiteness: the largest finite magnitude, the smallest exponent of
    /// ∞/NaN with and without mantissa bits, signs, zero and subnormals.
    static let edges: [(bits: UInt32, finite: Bool)] = [
        (0x7F7F_FFFF, true), (0xFF7F_FFFF, true), (0x0000_0000, true), (0x8000_0000, true), (0x0000_0001, true),
        (0x807F_FFFF, true), (0x3F80_0000, true), (0x7F80_0000, false), (0xFF80_0000, false), (0x7FC0_0000, false),
        (0xFFC0_0000, false), (0x7F80_0001, false), (0x7FFF_FFFF, false), (0xFFFF_FFFF, false),
    ]

    @Test("every edge value at every position of 1 to 40 values (vector body and scalar tail), aligned or not")
    func verdictAndCopyMatchTheRowCheck() {
        for count in 1...40 {
            for position in 0..<count {
                for edge in Self.edges {
                    var values = (0..<count).map { Float($0) * 0.25 - 3 }
                    values[position] = Float(bitPattern: edge.bits)
                    for misalignment in [0, 1, 3] {
                        withMessage(values, rows: 1, features: count, misalignment: misalignment) { message in
                            var copy = [Float](repeating: -7, count: count + 1)
                            let finite = copy.withUnsafeMutableBufferPointer { message.copyRowsIfFinite(0..<1, into: $0) }
                            #expect(finite == edge.finite, "bits \(edge.bits) at \(position) of \(count)")
                            #expect(finite == message.isRowFinite(0) && (message.firstNonFinite() == nil) == finite)
                            #expect(copy.prefix(count).map(\.bitPattern) == values.map(\.bitPattern), "all values copied either way")
                            #expect(copy[count] == -7, "nothing written past the rows")
                        }
                    }
                }
            }
        }
    }

    @Test("a row range copies only those rows; float64 converts, and beyond Float32's range is non-finite")
    func rangesAndFloat64() {
        let values: [Float] = (0..<48).map(Float.init)
        withMessage(values, rows: 3, features: 16) { message in
            var copy = [Float](repeating: 0, count: 32)
            #expect(copy.withUnsafeMutableBufferPointer { message.copyRowsIfFinite(1..<3, into: $0) })
            #expect(copy == Array(values[16..<48]))
        }
        for (value, finite) in [(1e300, false), (-1e300, false), (3.0e38, true), (Double.nan, false), (-2.5, true)] {
            let bytes = f8([1, 2, 3, value])
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + 3, alignment: 16)
            defer { raw.deallocate() }
            let slice = UnsafeMutableRawBufferPointer(rebasing: raw[3...])
            slice.copyBytes(from: bytes)
            let message = DecodedMessage(rows: 2, features: 2, elementType: .float64, payload: UnsafeRawBufferPointer(slice))
            var copy = [Float](repeating: 0, count: 4)
            #expect(copy.withUnsafeMutableBufferPointer { message.copyRowsIfFinite(0..<2, into: $0) } == finite)
            #expect(copy.prefix(3) == [1, 2, 3] && copy[3].bitPattern == Float(value).bitPattern)
            #expect(message.isRowFinite(1) == finite)
        }
    }

    /// 64-row × 16-feature messages (the workload) through an engine: a message with one NaN,
    /// arriving while a batch is half full, is refused with its location and leaves the waiting rows,
    /// their origins and the counts exactly as they were; the next messages complete the batch.
    @Test("a refused message arriving into a half-full batch leaves no rows, origins or counts behind")
    func refusedMessageLeavesNoTrace() throws {
        let features = 16, rows = 64
        let sink = CollectingSink()
        let engine = PipelineEngine(
            settings: .init(name: "p", mode: .infer, batchSize: 256, maxLatency: .seconds(60), invalidRows: .rejectMessage),
            chain: StageChain(links: [], featureCount: features), sink: sink, logger: Logger(label: "test"))
        func message(_ seq: Int) -> [Float] { (0..<(rows * features)).map { Float(seq * 10_000 + $0) } }
        for seq in 0..<2 {
            withMessage(message(seq), rows: rows, features: features) { m in
                var m = m
                m.seq = UInt64(seq)
                m.producer = "cam"
                #expect(engine.accept(m, input: 0) == nil)
            }
        }
        // Bad cells in the vector body of a row and in the last value of the message.
        for (index, bad) in [(3 * features + 5, Float.nan), (rows * features - 1, -Float.infinity)] {
            var values = message(9)
            values[index] = bad
            withMessage(values, rows: rows, features: features, misalignment: 2) { m in
                var m = m
                m.seq = 2
                m.producer = "cam"
                #expect(engine.accept(m, input: 0) == .nonFinite(row: index / features, column: index % features))
            }
        }
        #expect(engine.pendingRows == 2 * rows)
        for seq in 2..<4 {
            withMessage(message(seq), rows: rows, features: features, misalignment: 3) { m in
                var m = m
                m.seq = UInt64(seq)
                m.producer = "cam"
                #expect(engine.accept(m, input: 0) == nil)
            }
        }
        #expect(sink.batches.count == 1)
        let (batch, info) = try #require(sink.batches.first)
        #expect(batch.values == (0..<4).flatMap(message))
        #expect(
            info.origins
                == (0..<4).map {
                    RowOrigin(input: 0, producer: "cam", seq: UInt64($0), rows: ($0 * rows)..<(($0 + 1) * rows), messageRows: 0..<rows)
                })
        var expected = PipelineCounts()
        expected.messagesAccepted = 4
        expected.rowsAccepted = 256
        expected.messagesRejected = ["non_finite": 2]
        expected.batchesPublished = 1
        expected.rowsPublished = 256
        #expect(engine.counts == expected)
        #expect(engine.pendingRows == 0)
    }
}
