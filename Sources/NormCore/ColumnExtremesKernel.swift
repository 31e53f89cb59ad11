import CKernels

/// Per-feature minimum and maximum of every row of a batch, in Float32 (exact: the extremes are input
/// values, and every Float32 is exactly a Double):
///
/// ```
/// low[f]  = x < low[f]  ? x : low[f]      over the rows in order, from +∞
/// high[f] = x > high[f] ? x : high[f]     over the rows in order, from −∞
/// ```
///
/// Why the loop is shaped so: the rows are taken 16 at a time and each block chunk by chunk
/// (`FeatureChunk.width` features, then 4, then one at a time); a chunk's running minimum and maximum
/// stay in registers for the block's rows and are stored once per block. A sweep over all features per
/// row instead loads and stores both running rows for every 4 values (3 loads and 2 stores per 4
/// values, where this needs one load). Every feature still compares the same values in the same row
/// order, so the result is the same bits (including which of +0 and −0 wins a tie) as the row sweep.
public enum ColumnExtremesKernel {
    /// Writes the extremes of every row of `batch` into `low` and `high` (one value per feature), in
    /// their existing storage when it has the width and is not shared (no allocation once warm).
    /// With zero rows, `low` is all +∞ and `high` all −∞.
    public static func measure(_ batch: FeatureBatch, low: inout [Float], high: inout [Float]) {
        measure(batch, low: &low, high: &high, path: .fastest)
    }

    /// The same on a chosen `path` (tests run both).
    package static func measure(_ batch: FeatureBatch, low: inout [Float], high: inout [Float], path: KernelPath) {
        let features = batch.features, n = batch.rows
        low.reset(to: .infinity, count: features)
        high.reset(to: -.infinity, count: features)
        batch.withUnsafeValues { values in
            low.withUnsafeMutableBufferPointer { low in
                high.withUnsafeMutableBufferPointer { high in
                    guard let base = values.baseAddress else { return }
                    switch path {
                    case .avx2:
                        normd_extremes_avx2(base, n, features, low.baseAddress!, high.baseAddress!)
                    case .portable:
                        // Read only: the walk hands every kernel mutable row pointers.
                        FeatureChunk.walk(
                            Sweep(low: low.baseAddress!, high: high.baseAddress!), UnsafeMutablePointer(mutating: base),
                            features: features, rows: n)
                    }
                }
            }
        }
    }

    /// The running extremes as raw pointers, and the per-chunk loops.
    struct Sweep: ChunkSweep {
        let low: UnsafeMutablePointer<Float>, high: UnsafeMutablePointer<Float>

        @inline(__always)
        func chunk<V: SIMD>(_: V.Type, _ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) where V.Scalar == Float {
            var lowest = V.load(low + f), highest = V.load(high + f)
            var row = first
            for _ in 0..<rows {
                let x = V.load(row)
                lowest = lowest.lower(x)
                highest = highest.higher(x)
                row += stride
            }
            lowest.store(to: low + f)
            highest.store(to: high + f)
        }

        @inline(__always)
        func single(_ first: UnsafeMutablePointer<Float>, rows: Int, stride: Int, at f: Int) {
            var lowest = low[f], highest = high[f]
            var row = first
            for _ in 0..<rows {
                let x = row.pointee
                lowest = x < lowest ? x : lowest
                highest = x > highest ? x : highest
                row += stride
            }
            low[f] = lowest
            high[f] = highest
        }
    }
}
