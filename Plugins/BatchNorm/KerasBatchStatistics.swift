public import NormCore

/// The statistics of one tf_keras training batch, with or without ghost batches.
///
/// With `virtual_batch_size = V` the `N` rows form `G = N/V` ghost batches and ghost batch `j` is
/// rows `j, j+G, j+2G, …` — **strided**, because tf_keras reshapes `(N, F)` row-major to `(V, G, F)`
/// and reduces over the first axis. Each ghost batch is normalized with its own moments, while the
/// moving statistics get one update from the mean of the ghost means and the mean of the ghost
/// (biased) variances — not the full-batch variance. Without ghost batches there is one part, the
/// whole batch, and `combined` is its moments.
public struct KerasBatchStatistics: Sendable {
    /// Moments of each ghost batch in tf_keras' order (one entry without ghost batches).
    public let parts: [ColumnMoments]
    /// What the moving statistics (and renorm's r, d) are computed from.
    public let combined: ColumnMoments

    /// - Precondition: `batch.rows > 0` and, with ghost batches, a multiple of `virtualBatchSize`.
    /// `nearMean`: see `ColumnMoments.init(of:…:nearMean:)` (a hint, never a change of result beyond rounding).
    public init(of batch: FeatureBatch, virtualBatchSize: Int?, nearMean: [Float]? = nil) {
        if let virtualBatchSize {
            parts = ColumnMoments.ghostBatches(of: batch, virtualBatchSize: virtualBatchSize, nearMean: nearMean)
            combined = ColumnMoments.average(parts)
        } else {
            let whole = ColumnMoments(of: batch, nearMean: nearMean)
            parts = [whole]
            combined = whole
        }
    }

    /// Normalizes each ghost batch (or the whole batch) with its own moments:
    /// `y = γ·((x − μ_j)/√(σ²_j + ε)·r + d) + β`; `r`, `d` default to plain batch norm (1, 0).
    /// `coefficients` is the caller's reusable scratch.
    public func normalize(
        _ batch: inout FeatureBatch, coefficients: inout CenteredAffine, gamma: [Double], beta: [Double], epsilon: Double,
        r: [Double]? = nil, d: [Double]? = nil
    ) {
        let ghostCount = parts.count
        for (j, part) in parts.enumerated() {
            NormalizationCoefficients.centered(
                into: &coefficients, mean: part.mean, variance: part.variance, gamma: gamma, beta: beta, epsilon: epsilon, r: r, d: d)
            AffineTransform.apply(to: &batch, coefficients, firstRow: j, rowStride: ghostCount, count: part.count)
        }
    }

    /// tf_keras' `_assign_moving_average`: `moving -= (moving − value)·(1 − momentum)`.
    public static func movingAverage(_ moving: inout [Double], toward value: [Double], momentum: Double) {
        let decay = 1 - momentum
        for f in moving.indices { moving[f] -= (moving[f] - value[f]) * decay }
    }
}
