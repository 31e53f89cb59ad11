import NormCore
import NormTesting
import Pipeline
import Testing

/// A reload that changes `batch.size` moves the waiting rows into a batcher of the new size:
/// in order, each exactly once, with their origins.
@Suite struct RowBatcherTakePendingTests {
    /// Rows 0..<n of width 2, value = 10·row + column.
    static func rows(_ range: Range<Int>) -> InMemoryRows {
        InMemoryRows(values: range.map { [Float($0 * 10), Float($0 * 10 + 1)] }, producer: "a", seq: 7)
    }

    static func waiting(_ count: Int, batchSize: Int) -> RowBatcher {
        var old = RowBatcher(batchSize: batchSize, features: 2)
        old.append(rows(0..<count), rows: 0..<count, input: 1, arrival: .now) { _, _ in Issue.record("no batch may fill up here") }
        return old
    }

    @Test func aSmallerSizeEmitsFullBatchesAtOnceAndKeepsTheRest() {
        var emitted: [([Float], [RowOrigin])] = []
        var new = RowBatcher(batchSize: 2, features: 2)
        new.takePending(from: Self.waiting(5, batchSize: 8)) { batch, origins in
            emitted.append((batch.withUnsafeValues { Array($0) }, origins))
        }
        #expect(emitted.map(\.0) == [[0, 1, 10, 11], [20, 21, 30, 31]])
        #expect(
            emitted.map(\.1) == [
                [RowOrigin(input: 1, producer: "a", seq: 7, rows: 0..<2, messageRows: 0..<2)],
                [RowOrigin(input: 1, producer: "a", seq: 7, rows: 0..<2, messageRows: 2..<4)],
            ])
        #expect(new.pendingRows == 1)
        var last: [Float] = []
        new.flush { batch, origins in
            last = batch.withUnsafeValues { Array($0) }
            #expect(origins == [RowOrigin(input: 1, producer: "a", seq: 7, rows: 0..<1, messageRows: 4..<5)])
        }
        #expect(last == [40, 41])
    }

    @Test func aLargerSizeWaitsForMoreRows() {
        var new = RowBatcher(batchSize: 8, features: 2)
        let old = Self.waiting(3, batchSize: 4)
        new.takePending(from: old) { _, _ in Issue.record("3 rows do not fill a batch of 8") }
        #expect(new.pendingRows == 3)
        #expect(new.oldestArrival == old.oldestArrival, "max_latency still counts from the first waiting row")
        var sizes: [Int] = []
        new.append(Self.rows(3..<8), rows: 0..<5, input: 0, arrival: .now) { batch, _ in sizes.append(batch.rows) }
        #expect(sizes == [8])
    }
}
