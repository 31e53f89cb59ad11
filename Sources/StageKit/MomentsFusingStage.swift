public import NormCore

/// A stage that takes part in the chain's fused passes: while stage k writes its output, the moments
/// stage k+1 will train on are accumulated over the values just written (`AffineMomentsKernel`), so
/// stage k+1 skips its own moments pass and the chain skips its check of stage k's output.
///
/// Split so that "accumulate moments" and "apply coefficients" are separate steps a caller can
/// drive: `trainMomentsShift()` says about which shift a stage wants its moments, and
/// `process(_:mode:moments:nextShift:)` takes moments computed elsewhere and/or hands back the
/// moments of its own output. The results are bit-identical to `process(_:mode:)` (see
/// `AffineMomentsKernel` for why), which every adopter implements as this with `nil`, `nil`.
public protocol MomentsFusingStage: Stage {
    /// The Float32 shift (its running mean) about which this stage would compute its next train
    /// batch's moments, or `nil` when it does not compute them that way (ghost batches, no running
    /// statistics, not a moments stage): then it is never given moments.
    func trainMomentsShift() -> [Float]?

    /// `process(_:mode:)` with two additions:
    /// - `moments` (train mode only): the batch's moments about `trainMomentsShift()`, as the
    ///   previous stage's fused write pass computed them; used instead of a moments pass;
    /// - `nextShift`: the next stage's `trainMomentsShift()`; the stage's last write pass then
    ///   accumulates its output's moments about it and returns them.
    /// - Returns: what the fused write pass learned, or `nil` when it did not run one (infer mode,
    ///   ghost batches, no `nextShift`): then the caller checks the output itself.
    func process(_ batch: inout FeatureBatch, mode: Mode, moments: ColumnMoments?, nextShift: [Float]?) throws(StageError)
        -> AffineMomentsKernel.Result?
}
