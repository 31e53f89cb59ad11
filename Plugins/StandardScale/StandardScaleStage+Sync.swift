public import NormCore
public import StageKit

/// Synchronized `standard_scale`: `partial_fit` with the step's merged count, mean and variance
/// (Chan's merge, `RunningMoments.merge`), then the transform an infer batch gets.
extension StandardScaleStage: MomentSynchronizedStage {
    public var contributesExtremes: Bool { false }

    public func train(_ batch: inout FeatureBatch, merged: MomentContribution) throws(StageError) {
        guard batch.features == featureCount else { throw .widthMismatch(expected: featureCount, got: batch.features) }
        guard let combined = merged.columnMoments else { return }
        moments.merge(combined)
        try process(&batch, mode: .infer)
    }
}
