import NormCore
import Testing

/// The kernels of the chain's train path from summaries (branch chain9): `ColumnSummaryKernel` (one
/// read pass: extremes and moments), `AffineChainKernel` (one write pass: several affine stages in
/// registers) and `ColumnSummary.mapped` (a stage's output summary derived from its input's), each
/// against the kernels they replace, on every `KernelPath` this CPU runs and over widths around the
/// chunk sizes (16 + 8 + 1 = 25, 8 + 1, …) and row counts around the 16-row blocks.
@Suite("Chain kernels from summaries")
struct ChainKernelBitsTests {
    static let widths = [1, 3, 4, 7, 8, 9, 16, 17, 24, 25, 33, 128, 131, 1024]
    static let rowCounts = [1, 2, 15, 16, 17, 37, 256]

    static func affine(features: Int, stage: Int) -> CenteredAffine {
        var affine = CenteredAffine(featureCount: features)
        for f in 0..<features {
            let sign: Double = (f + stage) % 5 == 0 ? -1 : 1 // some negative scales: the extremes swap
            affine.set(
                f, center: f % 3 == 0 ? 1e4 + 0.3 : -0.1 * Double(stage), scale: sign * (0.5 + 0.01 * Double(f + stage)),
                offset: f % 2 == 0 ? 0.25 : -0.5)
        }
        return affine
    }

    static func bits(_ batch: FeatureBatch) -> [UInt32] { batch.values.map(\.bitPattern) }

    @Test("ColumnSummaryKernel: both paths give the same bits; extremes == ColumnExtremesKernel's, moments ≈ exact")
    func summaryKernel() {
        for features in Self.widths {
            for rows in Self.rowCounts {
                let batch = ChunkedKernelBitsTests.batch(rows: rows, features: features, special: false)
                var low: [Float] = [], high: [Float] = []
                ColumnExtremesKernel.measure(batch, low: &low, high: &high, path: .portable)
                let exact = ColumnMoments.exact(of: batch)
                var results: [([UInt32], [UInt32], [UInt64], [UInt64])] = []
                for path in KernelPath.available {
                    var summary = ColumnSummary(), shift: [Float] = []
                    let outcome = ColumnSummaryKernel.measure(batch, into: &summary, shift: &shift, path: path)
                    #expect(outcome.finite, "\(features) × \(rows), \(path)")
                    #expect(summary.count == rows)
                    #expect(summary.low == low && summary.high == high, "extremes, \(features) × \(rows), \(path)")
                    for f in 0..<features {
                        let spread = max(exact.variance[f], 1e-30)
                        #expect(abs(summary.mean[f] - exact.mean[f]) <= 1e-6 * spread.squareRoot() + 1e-12 * abs(exact.mean[f]))
                        #expect(abs(summary.variance[f] - exact.variance[f]) <= 1e-5 * spread, "variance f\(f), \(features) × \(rows)")
                    }
                    results.append(
                        (
                            summary.low.map(\.bitPattern), summary.high.map(\.bitPattern), summary.mean.map(\.bitPattern),
                            summary.variance.map(\.bitPattern)
                        ))
                }
                if results.count == 2 { #expect(results[0] == results[1], "paths differ, \(features) × \(rows)") }
            }
        }
    }

    @Test("ColumnSummaryKernel: a non-finite value makes the summary unusable; a far shift is reported")
    func summaryOutcome() {
        for path in KernelPath.available {
            var summary = ColumnSummary(), shift: [Float] = []
            var values = [Float](repeating: 1, count: 64 * 3)
            values[40 * 3 + 1] = .infinity
            let outcome = ColumnSummaryKernel.measure(FeatureBatch(rows: 64, features: 3, values: values), into: &summary, shift: &shift, path: path)
            #expect(!outcome.finite)
            #expect(!outcome.usable)
            // First 16 rows at 0, the next 240 at 100: the shift (0) is ~3.9σ from the mean (93.75).
            let ramp = (0..<256).map { Float($0 < 16 ? 0 : 100) }
            let far = ColumnSummaryKernel.measure(FeatureBatch(rows: 256, features: 1, values: ramp), into: &summary, shift: &shift, path: path)
            #expect(far.finite && !far.close && !far.usable)
            #expect(summary.mean == [93.75] && summary.low == [0] && summary.high == [100])
        }
    }

    @Test("AffineChainKernel == AffineTransform.apply stage after stage, bit for bit, on both paths", arguments: [1, 2, 3, 4, 7])
    func chainKernel(stages: Int) {
        for features in Self.widths {
            for rows in Self.rowCounts {
                let input = ChunkedKernelBitsTests.batch(rows: rows, features: features, special: true)
                var reference = input
                var chain = AffineChain(features: features, stages: stages)
                for j in 0..<stages {
                    let affine = Self.affine(features: features, stage: j)
                    AffineTransform.apply(to: &reference, affine, path: .portable)
                    chain.set(stage: j, affine)
                }
                for path in KernelPath.available {
                    var batch = input
                    AffineChainKernel.apply(to: &batch, chain, path: path)
                    #expect(Self.bits(batch) == Self.bits(reference), "\(stages) stages, \(features) × \(rows), \(path)")
                }
            }
        }
    }

    @Test("ColumnSummary.mapped: exact extremes of the written values, moments within 1e-6, finiteness proved")
    func mappedSummary() {
        for features in Self.widths {
            for rows in Self.rowCounts where rows > 1 {
                var batch = ChunkedKernelBitsTests.batch(rows: rows, features: features, special: false)
                var summary = ColumnSummary(), shift: [Float] = []
                _ = ColumnSummaryKernel.measure(batch, into: &summary, shift: &shift)
                for j in 0..<3 {
                    let affine = Self.affine(features: features, stage: j)
                    var next = ColumnSummary()
                    #expect(summary.mapped(through: affine, into: &next))
                    AffineTransform.apply(to: &batch, affine)
                    var low: [Float] = [], high: [Float] = []
                    ColumnExtremesKernel.measure(batch, low: &low, high: &high)
                    #expect(next.low == low && next.high == high, "stage \(j), \(features) × \(rows)")
                    let exact = ColumnMoments.exact(of: batch)
                    for f in 0..<features {
                        // The written values carry rounding errors e of up to a few ulps of their magnitude
                        // per stage, which the derived moments do not see: the mean moves by up to |e|,
                        // the variance by up to 2σ|e| + e² (sample covariance of the values and their errors).
                        // Where a stage centres its input (as every normd stage does) |e| ≪ σ; these
                        // coefficients also centre features near 0 on 1e4, where |e| is ~1e-3·σ.
                        let e = Double((j + 1) * 4) * Double(max(abs(low[f]), abs(high[f])).ulp)
                        let sigma = exact.variance[f].squareRoot()
                        #expect(abs(next.mean[f] - exact.mean[f]) <= 1e-6 * (sigma + abs(exact.mean[f])) + e, "mean f\(f) stage \(j)")
                        #expect(
                            abs(next.variance[f] - exact.variance[f]) <= 1e-5 * exact.variance[f] + 2 * sigma * e + e * e + 1e-12,
                            "variance f\(f) stage \(j)")
                    }
                    summary = next
                }
            }
        }
        // An output that overflows Float32: the mapped extremes say so.
        var huge = CenteredAffine(featureCount: 1)
        huge.set(0, center: 0, scale: 1e38, offset: 0)
        let small = ColumnSummary(count: 2, low: [-10], high: [10], mean: [0], variance: [100])
        var out = ColumnSummary()
        #expect(!small.mapped(through: huge, into: &out))
        #expect(out.low == [-.infinity] && out.high == [.infinity])
    }
}
