public import NormCore

/// A stage whose train step is, per feature, an affine map of its input, `y = (x − c)·s + o` in
/// Float32, with `c`, `s`, `o` computed from the input batch's extremes or moments (min_max without
/// clip, batch norm and batch renorm without ghost batches). Then a chain of such stages needs only
/// the first input's `ColumnSummary`: each stage's input summary follows from the previous stage's
/// (`ColumnSummary.mapped(through:into:)`), and every stage's coefficients are known before anything
/// is written, so the chain trains in two passes over the batch — one read (`ColumnSummaryKernel`),
/// one read/write applying every stage in registers (`AffineChainKernel`) — instead of one or two per
/// stage (see `StageChain`, "train from summaries").
///
/// The results are not bit-identical to `process(_:mode: .train)`: the moments a stage trains on
/// are those of its input derived through the previous stages' affines rather than measured on the
/// Float32 values those stages wrote (~1e-7 relative apart; BENCHMARKS.md, branch chain9). Extremes
/// are exact either way.
public protocol AffineTrainingStage: Stage {
    /// Whether the next train batch can be trained with `trainAffine(from:)`: false when the stage's
    /// train step is not one affine map of the whole batch (ghost batches: one map per ghost batch;
    /// min_max's `clip`: a clamp after the map). Asked before every train batch.
    var trainsAffine: Bool { get }

    /// A train step from a summary of the input batch instead of the batch: updates the running
    /// statistics exactly as `process(_:mode: .train)` would from a batch with these extremes
    /// (`input.low`, `input.high`) and moments, and returns the Float32 map it would apply to that
    /// batch. The batch itself is written later by the chain, with every stage's coefficients in one
    /// pass. The result may share the stage's own coefficient storage: the caller lets go of it
    /// before the stage's next batch (else that batch copies it).
    /// - Precondition: `trainsAffine`, `input.count > 0`, `input.features == featureCount`.
    func trainAffine(from input: ColumnSummary) -> CenteredAffine

    /// The Float32 map `process(_:mode: .infer)` applies, or `nil` when an infer batch is not one
    /// affine map (min_max with `clip`, or never fitted: the identity, applied by not writing at all).
    /// The chain applies every stage's infer map in one pass (`AffineChainKernel`): the same
    /// operations on every value as the stages one pass each, so the same bits.
    func inferAffine() -> CenteredAffine?
}
