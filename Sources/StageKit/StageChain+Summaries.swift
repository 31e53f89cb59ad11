import NormCore

/// How a `StageChain` runs train batches.
public enum TrainPasses: Sendable, Equatable {
    /// Every stage's own train step, with the fused passes of `MomentsFusingStage` neighbours: the
    /// bits of the stages run one by one (`FusedChainBitsTests`).
    case fused
    /// When every stage is an `AffineTrainingStage` over whole rows that `trainsAffine` for the
    /// batch: the whole chain from summaries, two passes over the batch; otherwise (or when a
    /// condition below fails for a batch) `.fused`. Infer batches of such a chain: every stage's map
    /// in one pass (the same bits as one pass per stage).
    case summaries
}

extension StageChain {
    /// Trains every stage on `batch` from summaries, in two passes over the batch (train mode; the
    /// statistics were set aside):
    ///
    /// ```
    /// pass A (read):   S₀ = ColumnSummaryKernel(batch)          extremes, mean, variance of the input
    /// per stage j:     A_j = stage_j.trainAffine(from: S_j)     updates stage j's statistics
    ///                  S_{j+1} = S_j mapped through A_j          exact extremes, derived moments
    /// pass B (write):  batch = A_last(… A_1(A_0(batch)))         AffineChainKernel, in registers
    /// ```
    ///
    /// against the fused path's four (extremes; min_max's write + batch_norm's moments; batch_norm's
    /// write + renorm's moments; renorm's write for `min_max → batch_norm → batch_renorm`).
    ///
    /// The checks of the fused path hold before anything is written: `S₀` proves the input finite
    /// (finite sums); an output summary with finite extremes proves that stage's every output value
    /// finite (`ColumnSummary`: the map is monotone, its extremes are the images of the input's), and
    /// each stage's statistics are checked as `process` checks them. When any of that fails — or
    /// `S₀` is unusable (a mean further than 2σ from its shift), or some stage does not `trainsAffine`
    /// for this batch — the statistics are put back and this returns false with the batch untouched:
    /// the caller runs the fused path, which then finds (and reports, with row and column) whatever
    /// went wrong exactly as before. The last stage's output is not checked, as on the fused path
    /// (nothing learns from it).
    /// - Returns: whether the batch was trained and written.
    func trainFromSummaries(_ batch: inout FeatureBatch) -> Bool {
        guard trainPasses == .summaries, let stages = affineStages, stages.allSatisfy({ $0.trainsAffine }) else { return false }
        // The two summaries are moved into locals for the batch and back (swaps: no copy, no
        // allocation). A stage's call cannot reach a local, so the input summary is lent to it in
        // place; read out of a stored property it was copied first (four retains and releases, through
        // outlined value-witness calls, per stage per batch: ~4 % of a 256 × 16 train batch, callgrind).
        var input = ColumnSummary(), output = ColumnSummary()
        swap(&input, &inputSummary)
        swap(&output, &outputSummary)
        defer {
            swap(&input, &inputSummary)
            swap(&output, &outputSummary)
        }
        guard ColumnSummaryKernel.measure(batch, into: &input, shift: &summaryShift).usable else { return false }
        let last = stages.count - 1
        for (j, stage) in stages.enumerated() {
            let coefficients = stage.trainAffine(from: input)
            // The last stage's output summary is not needed: nothing learns from it, nothing checks it.
            let outputFinite = j == last || input.mapped(through: coefficients, into: &output)
            affineChain.set(stage: j, coefficients)
            guard outputFinite && statisticsAreFinite(j) else {
                restoreStatisticsSetAside()
                return false
            }
            swap(&input, &output) // stage j's output summary is stage j + 1's input
        }
        AffineChainKernel.apply(to: &batch, affineChain)
        summaryBatches += 1
        return true
    }

    /// Applies every stage's infer map (`AffineTrainingStage.inferAffine()`) in one pass over the batch
    /// instead of one pass per stage: each value gets the same Float32 operations with the same
    /// coefficients, so the output is the same bits (`SummaryChainTests`). Infer learns nothing, so
    /// nothing is checked between stages, as on the per-stage path. Under `.summaries` only.
    /// - Returns: false, with the batch untouched, when some stage's infer is not one affine map.
    func inferInOnePass(_ batch: inout FeatureBatch) -> Bool {
        guard trainPasses == .summaries, let stages = affineStages else { return false }
        for (j, stage) in stages.enumerated() {
            guard let coefficients = stage.inferAffine() else { return false }
            affineChain.set(stage: j, coefficients)
        }
        AffineChainKernel.apply(to: &batch, affineChain)
        onePassInferBatches += 1
        return true
    }
}
