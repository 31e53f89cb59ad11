import NormCore
import Testing

@Suite("ColumnMoments")
struct ColumnMomentsTests {
    @Test("two-pass Float64 moments keep the digits E[x²]−E[x]² would cancel away")
    func largeOffsetKeepsPrecision() {
        // Values 1e4 + {0.001, 0.002, …}: the variance (~8.3e-7) is 14 orders below x².
        let rows = (1...1000).map { [Float(10_000) + Float($0) * 0.001, Float($0)] }
        let batch = FeatureBatch(rowsOf: rows, features: 2)
        let moments = ColumnMoments(of: batch)
        // Reference from the exact Float32 inputs, in Float64, by the definition.
        let column = rows.map { Double($0[0]) }
        let mean = column.reduce(0, +) / Double(column.count)
        let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(column.count)
        #expect(abs(moments.mean[0] - mean) <= 1e-9)
        #expect(abs(moments.variance[0] - variance) <= 1e-9 * variance)
        let naive = column.map { $0 * $0 }.reduce(0, +) / Double(column.count) - mean * mean
        #expect(abs(naive - variance) > abs(moments.variance[0] - variance), "the naive formula should be worse")
    }

    @Test("blocked Float32 sums agree with the all-Float64 moments (whole batch and strided ghosts)")
    func blockedMatchesExact() {
        var state: UInt64 = 7
        func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
        // Features around 0, around 1e4 with a spread of a few units, tiny and wide: 256 rows (16 blocks) + 5.
        let rows = (0..<261).map { _ in [uniform(), 10_000 + 3 * uniform(), 1e-3 * uniform(), -500 + 200 * uniform()] }
        let batch = FeatureBatch(rowsOf: rows, features: 4)
        for (first, stride, count) in [(0, 1, 261), (2, 3, 87), (0, 87, 3)] {
            let fast = ColumnMoments(of: batch, firstRow: first, rowStride: stride, count: count)
            let exact = ColumnMoments.exact(of: batch, firstRow: first, rowStride: stride, count: count)
            for f in 0..<4 {
                let spread = exact.variance[f].squareRoot()
                #expect(abs(fast.mean[f] - exact.mean[f]) <= 1e-6 * spread, "mean, feature \(f)")
                #expect(abs(fast.variance[f] - exact.variance[f]) <= 1e-6 * exact.variance[f], "variance, feature \(f)")
            }
        }
    }

    @Test("a nearMean hint skips a pass when close and is discarded when stale, without changing the result")
    func nearMeanHint() {
        var state: UInt64 = 11
        func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
        let rows = (0..<256).map { _ in [uniform(), 10_000 + 3 * uniform(), 7] }
        let batch = FeatureBatch(rowsOf: rows, features: 3)
        let exact = ColumnMoments.exact(of: batch)
        for hint: [Float] in [[0, 10_000, 7], [0, 0, 0], [100, -1e6, 7.5], [0.01, 10_000.2, 7]] {
            let hinted = ColumnMoments(of: batch, nearMean: hint)
            for f in 0..<3 {
                let spread = exact.variance[f].squareRoot()
                #expect(abs(hinted.mean[f] - exact.mean[f]) <= 1e-6 * max(spread, 1e-30), "mean, feature \(f), hint \(hint)")
                #expect(abs(hinted.variance[f] - exact.variance[f]) <= 5e-6 * exact.variance[f], "variance, feature \(f), hint \(hint)")
            }
        }
    }

    @Test("values whose Float32 squares overflow fall back to Float64")
    func overflowFallsBack() {
        let batch = FeatureBatch(rowsOf: [[3e30], [-3e30], [1e30], [Float.greatestFiniteMagnitude]], features: 1)
        let moments = ColumnMoments(of: batch)
        #expect(moments == ColumnMoments.exact(of: batch))
        #expect(moments.variance[0].isFinite && moments.variance[0] > 0)
    }

    @Test("unbiased variance scales by N/(N-1); one row has none")
    func unbiased() {
        let batch = FeatureBatch(rowsOf: [[1], [2], [3], [4]], features: 1)
        let moments = ColumnMoments(of: batch)
        #expect(moments.variance == [1.25])
        #expect(moments.unbiasedVariance == [1.25 * (4.0 / 3.0)])
        #expect(ColumnMoments(of: FeatureBatch(rowsOf: [[7]], features: 1)).unbiasedVariance == [0])
    }

    @Test("ghost batches are strided: ghost j holds rows j, j+G, j+2G, …")
    func stridedGhostBatches() {
        // 8 rows, virtual batch 4 → G = 2 ghosts: rows {0,2,4,6} and {1,3,5,7}.
        let batch = FeatureBatch(rowsOf: (0..<8).map { [Float($0)] }, features: 1)
        let ghosts = ColumnMoments.ghostBatches(of: batch, virtualBatchSize: 4)
        #expect(ghosts.count == 2)
        #expect(ghosts[0].mean == [3]) // (0+2+4+6)/4
        #expect(ghosts[1].mean == [4]) // (1+3+5+7)/4
        #expect(ghosts[0].variance == [5])
        let folded = ColumnMoments.average(ghosts)
        #expect(folded.mean == [3.5])
        #expect(folded.variance == [5], "mean of within-ghost variances, not the full-batch variance (5.25)")
    }
}

@Suite("FeatureBatch")
struct FeatureBatchTests {
    @Test("reset keeps row-major layout and appends whole rows")
    func resetAndAppend() {
        var batch = FeatureBatch(rowsOf: [[1, 2], [3, 4]], features: 2)
        batch.reset(rows: 1)
        #expect(batch.values == [1, 2])
        [Float(5), 6, 7, 8].withUnsafeBufferPointer { batch.append(contentsOf: $0) }
        #expect(batch.rows == 3)
        #expect(batch.row(2) == [7, 8])
    }

    @Test("the first non-finite value is located by row and column")
    func nonFinite() {
        let batch = FeatureBatch(rowsOf: [[1, 2, 3], [4, .nan, .infinity]], features: 3)
        let bad = batch.firstNonFinite()
        #expect(bad?.row == 1)
        #expect(bad?.column == 1)
    }
}

/// `ColumnMoments.finishAboutShift` multiplies by 1/n instead of dividing by n when n is a power of
/// two: the same correctly rounded operation on the same real number, so the same bits. Checked
/// against the division form it replaced, for powers of two and other counts, on sums that are
/// ordinary, huge, subnormal, negative, zero, NaN and infinite.
@Suite struct FinishAboutShiftBitsTests {
    /// The loop as it was: a division by n per term, the flags with `&&`.
    static func reference(_ shift: [Float], count n: Int, sums: [Double], squares: [Double]) -> (
        mean: [Double], variance: [Double], finite: Bool, close: Bool
    ) {
        let n64 = Double(n), inverse = 1.0 / n64
        var mean = sums, variance = squares, finite = true, close = true
        for f in shift.indices {
            let residual = mean[f], squares = variance[f]
            finite = finite && residual.isFinite && squares.isFinite && shift[f].isFinite
            let offset = residual * inverse
            mean[f] = Double(shift[f]) + offset
            variance[f] = max(0, (squares - residual * residual / n64) / n64)
            close = close && offset * offset <= 4 * variance[f]
        }
        return (mean, variance, finite, close)
    }

    @Test("the power-of-two shortcut gives the division's bits", arguments: [1, 2, 3, 16, 37, 255, 256, 1024, 1 << 20])
    func sameBits(rows n: Int) {
        var state: UInt64 = UInt64(n) &* 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        let specials: [Double] = [0, -0.0, 1e300, -1e300, 4e-320, .leastNonzeroMagnitude, .nan, .infinity, -.infinity]
        for round in 0..<40 {
            let features = 1 + round % 19
            let shift = (0..<features).map { f in f == 2 && round % 7 == 0 ? Float.infinity : Float(next() * 100) }
            var sums = (0..<features).map { _ in next() * Double(n) }
            var squares = sums.map { $0 * $0 / Double(n) + abs(next()) * Double(n) }
            if round >= 20 {
                sums[round % features] = specials[round % specials.count]
                squares[(round / 2) % features] = abs(specials[(round + 3) % specials.count])
            }
            let expected = Self.reference(shift, count: n, sums: sums, squares: squares)
            var mean = sums, variance = squares
            let flags = shift.withUnsafeBufferPointer { shift in
                mean.withUnsafeMutableBufferPointer { mean in
                    variance.withUnsafeMutableBufferPointer { variance in
                        ColumnMoments.finishAboutShift(
                            shift.baseAddress!, count: n, features: features, mean: mean.baseAddress!, variance: variance.baseAddress!)
                    }
                }
            }
            #expect(mean.map(\.bitPattern) == expected.mean.map(\.bitPattern), "mean, \(n) rows, round \(round)")
            #expect(variance.map(\.bitPattern) == expected.variance.map(\.bitPattern), "variance, \(n) rows, round \(round)")
            #expect(flags.finite == expected.finite && flags.close == expected.close, "flags, \(n) rows, round \(round)")
        }
    }
}
