public import NormCore
public import StageKit

/// Synchronized `min_max`: `partial_fit` with the step's merged extremes and summed
/// `n_samples_seen`, then the same transform an infer batch gets (which is what a train batch gets
/// after its fit).
extension MinMaxStage: MomentSynchronizedStage {
    public var contributesExtremes: Bool { true }

    public func train(_ batch: inout FeatureBatch, merged: MomentContribution) throws(StageError) {
        guard batch.features == featureCount else { throw .widthMismatch(expected: featureCount, got: batch.features) }
        guard merged.count > 0, merged.hasExtremes else { return }
        let extremes = FittedExtremes(minimum: merged.minimum, maximum: merged.maximum)
        fitted = fitted.map { $0.merged(with: extremes) } ?? extremes
        let (sum, overflow) = samplesSeen.addingReportingOverflow(merged.count)
        samplesSeen = overflow ? .max : sum
        try process(&batch, mode: .infer)
    }
}
