import NormCore
import Testing

/// `ExactMomentsKernel` (a sync group's contributions) against the two-pass `ColumnMoments.exact` it
/// replaces and against a Float80 two-pass reference, on data chosen to break a careless kernel: a
/// large offset with a tiny spread, constant columns, an outlier first row, sorted columns, values
/// whose squares leave Float32's range, and counts around the block size.
@Suite("ExactMomentsKernel")
struct ExactMomentsKernelTests {
    /// Deterministic uniform values in [−0.5, 0.5).
    struct Uniform {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
    }

    /// Column generators, each `(row, uniform) → value`.
    static let columns: [(name: String, value: @Sendable (Int, inout Uniform) -> Float)] = [
        ("around zero", { _, u in u.next() }),
        ("1e4 with spread 3", { _, u in 10_000 + 3 * u.next() }),
        ("1e7 with spread 4 (a few Float32 ulps)", { _, u in 1e7 + 4 * u.next() }),
        ("constant 0.1", { _, _ in 0.1 }),
        ("constant -3e38", { _, _ in -3e38 }),
        ("outlier first row", { row, u in row == 0 ? 1e6 : 1 + 1e-3 * u.next() }),
        ("sorted ramp", { row, _ in 1e5 + Float(row) * 0.25 }),
        ("squares beyond Float32", { row, u in (row % 2 == 0 ? 3e30 : -2e30) * (1 + u.next()) }),
        ("one value differs by one ulp", { row, _ in row == 5 ? Float(1e4).nextUp : 1e4 }),
        ("tiny", { _, u in 1e-30 * u.next() }),
    ]

    static func batch(rows: Int, columns: Range<Int> = columns.indices) -> FeatureBatch {
        var uniform = Uniform(state: UInt64(rows) &* 977 &+ 3)
        var values: [Float] = []
        for row in 0..<rows {
            for column in Self.columns[columns] { values.append(column.value(row, &uniform)) }
        }
        return FeatureBatch(rows: rows, features: columns.count, values: values)
    }

    /// Two-pass mean and M2 of one column in Float80 (64-bit significand): the reference truth.
    static func reference(_ batch: FeatureBatch, column: Int) -> (mean: Double, m2: Double) {
        #if arch(x86_64) && !os(Windows)
            var sum: Float80 = 0
            for row in 0..<batch.rows { sum += Float80(batch[row, column]) }
            let mean = sum / Float80(batch.rows)
            var m2: Float80 = 0
            for row in 0..<batch.rows {
                let d = Float80(batch[row, column]) - mean
                m2 += d * d
            }
            return (Double(mean), Double(m2))
        #else
            let exact = ColumnMoments.exact(of: batch)
            return (exact.mean[column], exact.variance[column] * Double(batch.rows))
        #endif
    }

    /// Whether `(mean, m2)` is within `relative` of the reference: the mean to `relative` of the
    /// spread (and 2⁻⁵² of its magnitude: one rounding of the final `K + m`), M2 to `relative` of itself.
    static func close(_ mean: Double, _ m2: Double, to truth: (mean: Double, m2: Double), rows: Int, relative: Double) -> Bool {
        let spread = (truth.m2 / Double(rows)).squareRoot()
        let meanOK = abs(mean - truth.mean) <= relative * spread + 0x1p-52 * abs(truth.mean)
        let m2OK = abs(m2 - truth.m2) <= relative * truth.m2
        return meanOK && m2OK
    }

    @Test(
        "equals the Float80 two-pass moments to 1e-12 and ColumnMoments.exact to 1e-11", arguments: [1, 2, 3, 31, 32, 33, 64, 100, 256, 1000, 4099])
    func matchesTheReference(rows: Int) {
        let batch = Self.batch(rows: rows)
        let result = ExactMomentsKernel.measure(batch, extremes: true)
        let exact = ColumnMoments.exact(of: batch)
        #expect(result.count == rows)
        for (column, spec) in Self.columns.enumerated() {
            let truth = Self.reference(batch, column: column)
            #expect(
                Self.close(result.mean[column], result.m2[column], to: truth, rows: rows, relative: 1e-12),
                "\(spec.name), \(rows) rows: mean \(result.mean[column]) m2 \(result.m2[column]), truth \(truth)")
            let twoPass = (mean: exact.mean[column], m2: exact.variance[column] * Double(rows))
            #expect(
                Self.close(result.mean[column], result.m2[column], to: twoPass, rows: rows, relative: 1e-11),
                "\(spec.name), \(rows) rows: against ColumnMoments.exact \(twoPass)")
            let values = (0..<rows).map { Double(batch[$0, column]) }
            #expect(result.minimum[column] == values.min() && result.maximum[column] == values.max(), "\(spec.name): extremes")
        }
    }

    @Test("a constant column has its value as mean and M2 = 0 exactly, at any count")
    func constantColumnsAreExact() {
        for rows in [1, 7, 32, 33, 257] {
            let result = ExactMomentsKernel.measure(Self.batch(rows: rows), extremes: false)
            #expect(result.mean[3] == Double(Float(0.1)) && result.m2[3] == 0, "\(rows) rows")
            #expect(result.mean[4] == Double(Float(-3e38)) && result.m2[4] == 0, "\(rows) rows")
            #expect(result.minimum.isEmpty && result.maximum.isEmpty)
        }
    }

    /// The tolerance above is not loose enough to pass anything: the blocked Float32 moments the
    /// unsynchronized stages use (`ColumnMoments(of:)`, ~1e-7) fail it. Only the first two columns:
    /// the one whose squares leave Float32's range would send the whole batch to the Float64 fallback.
    @Test("the 1e-12 tolerance refuses the blocked Float32 moments")
    func toleranceDiscriminates() {
        let batch = Self.batch(rows: 1000, columns: 0..<2)
        let blocked = ColumnMoments(of: batch)
        for column in 0..<2 {
            let truth = Self.reference(batch, column: column)
            #expect(
                !Self.close(blocked.mean[column], blocked.variance[column] * 1000, to: truth, rows: 1000, relative: 1e-12),
                "\(Self.columns[column].name)")
            let exact = ExactMomentsKernel.measure(batch, extremes: false)
            #expect(Self.close(exact.mean[column], exact.m2[column], to: truth, rows: 1000, relative: 1e-12))
        }
    }

    /// Same rows, same bits: the merge order is fixed, so two members measuring equal shards
    /// contribute identical moments.
    @Test func deterministic() {
        let batch = Self.batch(rows: 300)
        #expect(ExactMomentsKernel.measure(batch, extremes: true) == ExactMomentsKernel.measure(batch, extremes: true))
    }
}
