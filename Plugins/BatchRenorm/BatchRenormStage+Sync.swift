public import BatchNorm
public import NormCore
public import StageKit

/// Synchronized batch renorm: `r` and `d` are computed from the merged batch moments (the same on
/// every member), and the output and all four averages use them as a single stage would.
extension BatchRenormStage: MomentSynchronizedStage {
    public var contributesExtremes: Bool { false }

    public func train(_ batch: inout FeatureBatch, merged: MomentContribution) throws(StageError) {
        guard batch.features == featureCount else { throw .widthMismatch(expected: featureCount, got: batch.features) }
        guard let combined = merged.columnMoments else { return }
        train(&batch, moments: BatchMoments(combined: combined))
    }
}
