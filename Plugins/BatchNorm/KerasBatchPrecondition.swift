public import NormCore
public import StageKit

/// The checks every tf_keras-style stage (batch_norm, batch_renorm) makes before touching a batch.
public enum KerasBatchPrecondition {
    /// Throws on a wrong width, and on a train batch its ghost batches do not divide (the chain
    /// downgrades those to infer first, so reaching this is a caller's mistake, not bad data).
    /// - Returns: `false` for an empty batch, which needs no work.
    public static func check(_ batch: FeatureBatch, featureCount: Int, rowMultiple: Int, mode: Mode, kind: String) throws(StageError) -> Bool {
        guard batch.features == featureCount else {
            throw .widthMismatch(expected: featureCount, got: batch.features)
        }
        guard batch.rows > 0 else { return false }
        if mode == .train && batch.rows % rowMultiple != 0 {
            throw .failed(kind: kind, "a train batch of \(batch.rows) rows is not a multiple of virtual_batch_size (\(rowMultiple))")
        }
        return true
    }
}
