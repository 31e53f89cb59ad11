public import NormCore

/// The moments of one training batch as batch norm uses them, with or without tf_keras' ghost batches.
///
/// With `virtual_batch_size = V` the `N` rows form `G = N/V` ghost batches and ghost batch `j` is
/// rows `j, j+G, j+2G, …` — **strided**, because tf_keras reshapes `(N, F)` row-major to `(V, G, F)`
/// and reduces over the first axis. Each ghost batch is normalized with its own moments, while the
/// moving statistics get one update from the mean of the ghost means and the mean of the ghost
/// (biased) variances — not the full-batch variance. Without ghost batches (and always under the
/// torch convention) the whole batch is normalized with `combined`, its own moments.
public struct BatchMoments: Sendable {
    /// Moments of each ghost batch in tf_keras' order; empty without ghost batches (no array is
    /// allocated for the common case).
    public let ghosts: [ColumnMoments]
    /// What the output is normalized with when there are no ghost batches, and what the moving
    /// statistics (and renorm's r, d) are computed from.
    public let combined: ColumnMoments

    /// Moments computed elsewhere for the whole batch (no ghost batches): a fused pass of the
    /// previous stage (`AffineMomentsKernel`), or a sync group's merged step (`virtual_batch_size`
    /// is refused in a sync group).
    public init(combined: ColumnMoments) {
        ghosts = []
        self.combined = combined
    }

    /// - Precondition: `batch.rows > 0` and, with ghost batches, a multiple of `virtualBatchSize`.
    /// `nearMean`: see `ColumnMoments.init(of:…:nearMean:)` (a hint, never a change of result beyond rounding).
    public init(of batch: FeatureBatch, virtualBatchSize: Int?, nearMean: [Float]? = nil) {
        if let virtualBatchSize {
            ghosts = ColumnMoments.ghostBatches(of: batch, virtualBatchSize: virtualBatchSize, nearMean: nearMean)
            combined = ColumnMoments.average(ghosts)
        } else {
            ghosts = []
            combined = ColumnMoments(of: batch, nearMean: nearMean)
        }
    }
}
