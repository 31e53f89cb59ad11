import CKernels

/// One read-only sweep that measures a batch's `ColumnSummary`: per feature the Float32 extremes and
/// the Float64 mean and biased variance, about a shift taken from the batch's first rows:
///
/// ```
/// k[f]    = Float32(mean of the first min(16, n) rows)      (Float64 sum, then rounded)
/// low[f]  = x < low[f]  ? x : low[f],   high[f] = x > high[f] ? x : high[f]     (from ±∞, rows in order)
/// d = x − k[f]                                              (Float32)
/// Σd, Σd²: Float32 partial sums over blocks of 16 rows, each block folded into Float64
/// mean = k + Σd/n,  variance = (Σd² − (Σd)²/n)/n           (Chan, Golub & LeVeque)
/// ```
///
/// Why: the train chain `min_max → batch_norm → batch_renorm` needs, per stage, the extremes or the
/// moments of that stage's input; every stage is affine per feature, so they all follow from the
/// first input's summary (`ColumnSummary.mapped(through:into:)`). This sweep replaces the extremes
/// pass and the two moments accumulations of the fused chain with one read of the batch.
///
/// The shift: the stages' running means live in their own output spaces, and the first stage
/// (min_max) keeps none, so the shift comes from the batch itself: the mean of its first 16 rows is
/// within ~σ/4 of the batch mean for rows in no particular order, where the Float32 sums lose least
/// (`ColumnMoments.init(of:…:nearMean:)`: relative error ≤ (1 + (μ − k)²/σ²) × one block's Float32
/// rounding). It depends only on the batch, so a restored chain computes the same bits. `close`
/// reports whether every mean lies within 2σ of its shift (the condition `ColumnMoments` keeps a
/// hinted shift under); the caller uses the summary only then.
///
/// Why the loop is shaped so: the rows are taken 16 at a time (`ColumnMoments.blockRows`: the blocking
/// decides the rounding) and each block chunk by chunk; a chunk's running extremes, its two partial
/// sums and its shift stay in registers for the block's 16 rows, one load per value. Each feature
/// sees the same Float32 operations on the same values in the same row order on either path, so the
/// AVX2 kernel (`normd_summary_avx2`) gives the same bits as the Swift one (`ChainKernelBitsTests`).
/// The extremes are those of `ColumnExtremesKernel` (the same comparisons in the same order).
public enum ColumnSummaryKernel {
    /// Whether the summary can stand in for the batch: every sum was finite (which also proves every
    /// value finite) and every mean lies within 2σ of its shift.
    public struct Outcome: Sendable, Equatable {
        public var finite: Bool
        public var close: Bool
        public var usable: Bool { finite && close }
    }

    /// Measures `batch` into `summary`'s storage (no allocation once it has the width and is not
    /// shared); `shift` is scratch for the Float32 shifts, kept by the caller likewise.
    /// - Precondition: `batch.rows > 0`.
    public static func measure(_ batch: FeatureBatch, into summary: inout ColumnSummary, shift: inout [Float]) -> Outcome {
        measure(batch, into: &summary, shift: &shift, path: .fastest)
    }

    /// The same on a chosen `path` (tests run both).
    package static func measure(_ batch: FeatureBatch, into summary: inout ColumnSummary, shift: inout [Float], path: KernelPath) -> Outcome {
        let features = batch.features, n = batch.rows
        precondition(n > 0, "the summary of zero rows is undefined")
        summary.count = n
        summary.low.reset(to: .infinity, count: features)
        summary.high.reset(to: -.infinity, count: features)
        summary.mean.reset(to: 0, count: features)
        summary.variance.reset(to: 0, count: features)
        shift.reset(to: 0, count: features)
        let outcome = batch.withUnsafeValues { values in
            shift.withUnsafeMutableBufferPointer { k in
                summary.low.withUnsafeMutableBufferPointer { low in
                    summary.high.withUnsafeMutableBufferPointer { high in
                        summary.mean.withUnsafeMutableBufferPointer { mean in
                            summary.variance.withUnsafeMutableBufferPointer { variance in
                                let base = values.baseAddress!
                                switch path {
                                case .avx2: // computes the shift itself (the same loop, 4 features per instruction)
                                    normd_summary_avx2(
                                        base, n, features, k.baseAddress!, low.baseAddress!, high.baseAddress!, mean.baseAddress!,
                                        variance.baseAddress!)
                                case .portable:
                                    firstRowsMean(base, rows: n, features: features, sums: mean.baseAddress!, shift: k.baseAddress!)
                                    // Read only: the walk hands every kernel mutable row pointers.
                                    FeatureChunk.walk(
                                        Sweep(
                                            shift: k.baseAddress!, low: low.baseAddress!, high: high.baseAddress!, sums: mean.baseAddress!,
                                            squares: variance.baseAddress!),
                                        UnsafeMutablePointer(mutating: base), features: features, rows: n, blockRows: ColumnMoments.blockRows)
                                }
                                return ColumnMoments.finishAboutShift(
                                    UnsafePointer(k.baseAddress!), count: n, features: features, mean: mean.baseAddress!,
                                    variance: variance.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        return Outcome(finite: outcome.finite, close: outcome.close)
    }

    /// `shift[f] = Float(Σ first m rows / m)` with `m = min(16, n)`, the sums in Float64 (in `sums`,
    /// which is zeroed again afterwards: the sweep accumulates into it). Row pointers and no branch
    /// per element, so the loop vectorises.
    private static func firstRowsMean(
        _ base: UnsafePointer<Float>, rows n: Int, features: Int, sums: UnsafeMutablePointer<Double>, shift: UnsafeMutablePointer<Float>
    ) {
        let m = min(ColumnMoments.blockRows, n)
        for r in 0..<m {
            let row = base + r * features
            for f in 0..<features { sums[f] += Double(row[f]) }
        }
        let inverse = 1 / Double(m)
        for f in 0..<features {
            shift[f] = Float(sums[f] * inverse)
            sums[f] = 0
        }
    }

    /// The shift, the running extremes and the Float64 accumulators of one sweep, as raw pointers.
    struct Sweep: ChunkSweep {
        let shift: UnsafePointer<Float>
        let low: UnsafeMutablePointer<Float>, high: UnsafeMutablePointer<Float>
        let sums: UnsafeMutablePointer<Double>, squares: UnsafeMutablePointer<Double>

        @inline(__always)
        func chunk<V: SIMD>(_: V.Type, _ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) where V.Scalar == Float {
            let k = V.load(shift + f)
            var lowest = V.load(low + f), highest = V.load(high + f)
            var partial = V(), partialSquares = V()
            var row = first
            for _ in 0..<rows {
                let x = V.load(row)
                lowest = lowest.lower(x)
                highest = highest.higher(x)
                let d = x - k
                partial += d
                partialSquares += d * d
                row += stride
            }
            lowest.store(to: low + f)
            highest.store(to: high + f)
            FeatureChunk.fold(partial, partialSquares, into: sums + f, squares + f)
        }

        @inline(__always)
        func single(_ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) {
            let k = shift[f]
            var lowest = low[f], highest = high[f]
            var partial: Float = 0, partialSquares: Float = 0
            var row = first
            for _ in 0..<rows {
                let x = row.pointee
                lowest = x < lowest ? x : lowest
                highest = x > highest ? x : highest
                let d = x - k
                partial += d
                partialSquares += d * d
                row += stride
            }
            low[f] = lowest
            high[f] = highest
            sums[f] += Double(partial)
            squares[f] += Double(partialSquares)
        }
    }
}
