public import NormCore
public import StageKit

/// tf_keras `BatchNormalization(synchronized=True)`: the output is normalized with the merged
/// batch moments and the moving variance moves toward the merged **biased** variance `M2/N`.
extension KerasBatchNormStage: MomentSynchronizedStage {
    public var contributesExtremes: Bool { false }

    public func train(_ batch: inout FeatureBatch, merged: MomentContribution) throws(StageError) {
        guard batch.features == featureCount else { throw .widthMismatch(expected: featureCount, got: batch.features) }
        guard let combined = merged.columnMoments else { return }
        kernel.normalize(&batch, with: BatchMoments(combined: combined))
        BatchNormKernel.assignMovingAverage(&movingMean, toward: combined.mean, momentum: options.momentum)
        BatchNormKernel.assignMovingAverage(&movingVariance, toward: combined.variance, momentum: options.momentum)
    }
}

/// `torch.nn.SyncBatchNorm`: the output is normalized with the merged biased variance and
/// `running_var` moves toward the unbiased variance with the **global** count, `M2/(N − 1)`, as
/// `batch_norm_gather_stats_with_counts` computes it (not a mean of per-rank unbiased variances,
/// which pytorch#22192 showed to be wrong for unequal batch sizes).
extension TorchBatchNormStage: MomentSynchronizedStage {
    public var contributesExtremes: Bool { false }

    public func train(_ batch: inout FeatureBatch, merged: MomentContribution) throws(StageError) {
        guard batch.features == featureCount else { throw .widthMismatch(expected: featureCount, got: batch.features) }
        guard let combined = merged.columnMoments else { return }
        kernel.normalize(&batch, with: BatchMoments(combined: combined))
        guard options.tracksRunningStats else { return }
        batchesTracked = batchesTracked == .max ? .max : batchesTracked + 1
        let weight = options.momentum ?? 1 / Double(batchesTracked)
        BatchNormKernel.updateRunningAverage(&runningMean, toward: combined.mean, weight: weight)
        BatchNormKernel.updateRunningAverage(&runningVariance, toward: merged.unbiasedVariance, weight: weight)
    }
}
