import NormCore
import Testing

/// `FeatureBatch.copyRows(of:)`: the engine's retry copy of a train batch (kept on the pipeline's
/// thread or on the chain thread) must be a copy in its own storage, with nothing allocated once warm.
@Suite struct FeatureBatchCopyRowsTests {
    @Test func copiesEveryRowIntoItsOwnStorage() {
        var source = FeatureBatch(rowsOf: [[1, 2, 3], [4, 5, 6]], features: 3)
        var copy = FeatureBatch(rows: 0, features: 3)
        copy.copyRows(of: source)
        #expect(copy == source)
        source[0, 0] = 99 // a write to the source must not show in the copy
        #expect(copy.values == [1, 2, 3, 4, 5, 6])
        #expect(copy.rows == 2)
    }

    @Test func shrinksAndGrowsToTheSourceRows() {
        let three = FeatureBatch(rowsOf: [[1, 2], [3, 4], [5, 6]], features: 2)
        let one = FeatureBatch(rowsOf: [[7, 8]], features: 2)
        var copy = FeatureBatch(rows: 0, features: 2)
        copy.copyRows(of: three)
        copy.copyRows(of: one)
        #expect(copy.values == [7, 8])
        copy.copyRows(of: three)
        #expect(copy.values == [1, 2, 3, 4, 5, 6])
    }

    @Test func reusesItsStorageOnceItHeldThatManyRows() {
        let source = FeatureBatch(rowsOf: (0..<256).map { row in (0..<16).map { Float(row * 16 + $0) } }, features: 16)
        var copy = FeatureBatch(rows: 0, features: 16)
        copy.reserveCapacity(rows: 256)
        let storage = copy.withUnsafeMutableValues { $0.baseAddress }
        for _ in 0..<3 { copy.copyRows(of: source) }
        #expect(copy.withUnsafeMutableValues { $0.baseAddress } == storage)
        #expect(copy == source)
    }
}
