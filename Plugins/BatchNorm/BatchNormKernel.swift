public import NormCore
public import StageKit

/// The arithmetic all three batch-norm stages share — `batch_norm` under the keras and the torch
/// convention, and `batch_renorm` — so it is written (and reviewed, and later optimised) once:
///
/// ```
/// y = γ·((x − μ)/√(σ² + ε)·r + d) + β
/// ```
/// with `μ`, `σ²` the batch's biased moments (train; per ghost batch with `virtual_batch_size`) or the
/// running statistics (infer), and renorm's corrections `r`, `d` (plain batch norm: `r = 1`, `d = 0`).
///
/// It is applied as `AffineTransform`'s Float32 `y = (x − μ)·scale + offset`, with
/// `scale = γ·r/√(σ² + ε)` and `offset = d·γ + β` computed in Float64 (`CenteredAffine` folds the
/// Float32 rounding of `μ` into the offset). That is the operation order of tf_keras
/// (`tf.nn.batch_normalization`) and PyTorch (`batch_norm_cpu_collect_linear_and_constant_terms`);
/// centering first keeps a feature far from zero from cancelling in `x·scale − μ·scale`.
///
/// What differs between the stages stays in them: which statistics they keep and how they update them
/// (`assignMovingAverage` for tf_keras, `updateRunningAverage` for PyTorch), renorm's r and d, state
/// names and parameters. The kernel owns the per-batch scratch (coefficients, mean hint), so a warm
/// stage allocates nothing here beyond the moments.
public struct BatchNormKernel {
    public let featureCount: Int
    /// γ per feature; all ones when the stage applies none (keras `scale: false`, torch `affine: false`).
    public let gamma: [Double]
    /// β per feature; all zeros when the stage applies none (keras `center: false`, torch `affine: false`).
    public let beta: [Double]
    /// Added to the variance inside the square root (keras `epsilon`, torch `eps`).
    public let epsilon: Double
    /// tf_keras' ghost batches; `nil`: the whole batch is one (always under the torch convention).
    public let virtualBatchSize: Int?
    /// Float32 coefficients of the last normalization; reused per batch (no allocation once warm).
    private var coefficients: CenteredAffine
    /// Scratch for the Float32 copy of a running mean, the shift hint that lets the moments skip a
    /// pass (see `ColumnMoments.init(of:…:nearMean:)`). The stage passes its mean from the state
    /// before every batch — never from the previous batch — so a restored stage computes bit-for-bit
    /// what the original would.
    private var meanHint: [Float] = []
    /// Storage for the moments a fused write pass hands to the next stage (no allocation once warm).
    private var fusedMoments = ColumnMoments(count: 0, mean: [], variance: [])
    /// Scratch for `√(σ² + ε)` per feature (`setCoefficients`; no allocation once warm).
    private var stddevScratch: [Double] = []

    public init(featureCount: Int, gamma: [Double], beta: [Double], epsilon: Double, virtualBatchSize: Int? = nil) {
        precondition(gamma.count == featureCount && beta.count == featureCount, "gamma and beta have one value per feature")
        self.featureCount = featureCount
        self.gamma = gamma
        self.beta = beta
        self.epsilon = epsilon
        self.virtualBatchSize = virtualBatchSize
        coefficients = CenteredAffine(featureCount: featureCount)
    }

    /// A train batch must have a multiple of this many rows (`virtual_batch_size`, else 1).
    public var trainingRowMultiple: Int { virtualBatchSize ?? 1 }

    /// The checks a batch-norm stage makes before touching a batch. Throws on a wrong width, and on a
    /// train batch its ghost batches do not divide (the chain downgrades those to infer first, so
    /// reaching this is a caller's mistake, not bad data).
    /// - Returns: `false` for an empty batch, which needs no work.
    public func admits(_ batch: FeatureBatch, mode: Mode, kind: String) throws(StageError) -> Bool {
        guard batch.features == featureCount else {
            throw .widthMismatch(expected: featureCount, got: batch.features)
        }
        guard batch.rows > 0 else { return false }
        if mode == .train && batch.rows % trainingRowMultiple != 0 {
            throw .failed(kind: kind, "a train batch of \(batch.rows) rows is not a multiple of virtual_batch_size (\(trainingRowMultiple))")
        }
        return true
    }

    /// The batch's moments (per ghost batch when configured), using `runningMean` — the stage's
    /// running mean from its state, or `nil` when it keeps none — as the shift hint.
    ///
    /// `given`: the moments about `trainShift(nearRunningMean:)` that the previous stage's fused write
    /// pass computed (bit-identical to what this would compute); used as they are.
    public mutating func moments(of batch: FeatureBatch, nearRunningMean runningMean: [Double]?, given: ColumnMoments? = nil) -> BatchMoments {
        if let given { return BatchMoments(combined: given) }
        guard let runningMean else { return BatchMoments(of: batch, virtualBatchSize: virtualBatchSize) }
        ColumnMoments.hint(from: runningMean, into: &meanHint)
        return BatchMoments(of: batch, virtualBatchSize: virtualBatchSize, nearMean: meanHint)
    }

    /// The Float32 shift `moments(of:nearRunningMean:)` would use for a train batch — the running
    /// mean rounded — or `nil` with ghost batches or without a running mean (then no moments can be
    /// given to this kernel; see `MomentsFusingStage`).
    public mutating func trainShift(nearRunningMean runningMean: [Double]?) -> [Float]? {
        guard virtualBatchSize == nil, let runningMean else { return nil }
        ColumnMoments.hint(from: runningMean, into: &meanHint)
        return meanHint
    }

    /// Normalizes every row with fixed statistics (`y = γ·(x − μ)/√(σ² + ε) + β`): infer mode, with
    /// the running mean and variance.
    public mutating func normalize(_ batch: inout FeatureBatch, mean: [Double], variance: [Double]) {
        setCoefficients(mean: mean, variance: variance, r: nil, d: nil)
        AffineTransform.apply(to: &batch, coefficients)
    }

    /// Normalizes a train batch with its own moments — each ghost batch with its own, else the whole
    /// batch with `combined` — and renorm's `r`, `d` (one per feature, shared by the ghost batches)
    /// when given.
    ///
    /// `nextShift`: the next stage's shift (`MomentsFusingStage`); without ghost batches the write
    /// pass then also accumulates the output's moments about it (`AffineMomentsKernel`) and returns them.
    /// `combinedStddev`: `√(σ² + ε)` of `moments.combined`, when the caller computed it already
    /// (renorm's `σ_B`); used instead of the square root without ghost batches.
    @discardableResult
    public mutating func normalize(
        _ batch: inout FeatureBatch, with moments: BatchMoments, r: [Double]? = nil, d: [Double]? = nil,
        combinedStddev: [Double]? = nil, nextShift: [Float]? = nil
    ) -> AffineMomentsKernel.Result? {
        guard !moments.ghosts.isEmpty else {
            setCoefficients(mean: moments.combined.mean, variance: moments.combined.variance, stddev: combinedStddev, r: r, d: d)
            if let nextShift {
                return AffineMomentsKernel.apply(to: &batch, coefficients, momentsAbout: nextShift, reusing: &fusedMoments)
            }
            AffineTransform.apply(to: &batch, coefficients)
            return nil
        }
        let ghostCount = moments.ghosts.count
        for (j, ghost) in moments.ghosts.enumerated() {
            setCoefficients(mean: ghost.mean, variance: ghost.variance, r: r, d: d)
            AffineTransform.apply(to: &batch, coefficients, firstRow: j, rowStride: ghostCount, count: ghost.count)
        }
        return nil
    }

    /// The Float32 map `normalize(_:with:r:d:combinedStddev:nextShift:)` would apply to a train
    /// batch without ghost batches whose moments are `moments`, computed the same way, without
    /// applying it: for `AffineTrainingStage`, whose chain applies every stage's map in one pass. The
    /// result shares the kernel's coefficient storage until the kernel's next batch.
    /// - Precondition: no ghost batches (`virtualBatchSize == nil`).
    public mutating func trainCoefficients(
        for moments: ColumnMoments, r: [Double]? = nil, d: [Double]? = nil, combinedStddev: [Double]? = nil
    ) -> CenteredAffine {
        precondition(virtualBatchSize == nil, "one map per ghost batch")
        setCoefficients(mean: moments.mean, variance: moments.variance, stddev: combinedStddev, r: r, d: d)
        return coefficients
    }

    /// The Float32 map `normalize(_:mean:variance:)` applies (infer mode), without applying it. The
    /// result shares the kernel's coefficient storage until the kernel's next batch.
    public mutating func inferCoefficients(mean: [Double], variance: [Double]) -> CenteredAffine {
        setCoefficients(mean: mean, variance: variance, r: nil, d: nil)
        return coefficients
    }

    /// `center = μ`, `scale = γ·r/√(σ² + ε)`, `offset = d·γ + β` per feature, in Float64, rounded as
    /// `CenteredAffine.rounded` does. `stddev`: `√(σ² + ε)` when the caller has it already (renorm's
    /// `σ_B`, the same expression on the same values); otherwise `StandardDeviationKernel` computes it.
    ///
    /// Why written out over raw pointers: this runs per train batch for every feature (twice per batch
    /// in a batch_norm → batch_renorm chain); through `CenteredAffine.setAll` it made an indirect call
    /// per feature and was ~8 % of a 256 × 128 chain (profiled). With the square roots taken by the
    /// kernel (a libm call in Swift blocks vectorisation) and no optionals read per feature, the
    /// compiler vectorises the loops for plain batch norm and for both of renorm's corrections.
    private mutating func setCoefficients(mean: [Double], variance: [Double], stddev given: [Double]? = nil, r: [Double]?, d: [Double]?) {
        let stddev: [Double]
        if let given {
            stddev = given
        } else {
            StandardDeviationKernel.compute(variance, epsilon: epsilon, into: &stddevScratch)
            stddev = stddevScratch
        }
        gamma.withUnsafeBufferPointer { gamma in
            beta.withUnsafeBufferPointer { beta in
                mean.withUnsafeBufferPointer { mean in
                    stddev.withUnsafeBufferPointer { stddev in
                        coefficients.withUnsafeMutableCoefficients { center, scale, offset in
                            let count = center.count
                            precondition(gamma.count == count && mean.count == count && stddev.count == count)
                            func set(_ f: Int, scale s: Double, offset o: Double) {
                                (center[f], scale[f], offset[f]) = CenteredAffine.rounded(center: mean[f], scale: s, offset: o)
                            }
                            guard let r, let d else {
                                if r == nil && d == nil { // plain batch norm (and infer): the general form with r = 1, d = 0
                                    for f in 0..<count { set(f, scale: gamma[f] * 1 / stddev[f], offset: 0 * gamma[f] + beta[f]) }
                                    return
                                }
                                for f in 0..<count { // one correction without the other (no built-in stage does this)
                                    set(f, scale: gamma[f] * (r?[f] ?? 1) / stddev[f], offset: (d?[f] ?? 0) * gamma[f] + beta[f])
                                }
                                return
                            }
                            precondition(r.count == count && d.count == count)
                            r.withUnsafeBufferPointer { r in
                                d.withUnsafeBufferPointer { d in
                                    for f in 0..<count { set(f, scale: gamma[f] * r[f] / stddev[f], offset: d[f] * gamma[f] + beta[f]) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// tf_keras' `_assign_moving_average`: `moving −= (moving − value)·(1 − momentum)`, where
    /// `momentum` is the fraction *kept* (0.99 by default).
    /// (Over raw pointers, like the other per-feature loops run per train batch: no bounds check per
    /// element, so the loop vectorises.)
    public static func assignMovingAverage(_ moving: inout [Double], toward value: [Double], momentum: Double) {
        let decay = 1 - momentum
        precondition(value.count == moving.count)
        moving.withUnsafeMutableBufferPointer { moving in
            value.withUnsafeBufferPointer { value in
                for f in moving.indices { moving[f] -= (moving[f] - value[f]) * decay }
            }
        }
    }

    /// PyTorch's running-statistics update: `running = (1 − w)·running + w·value`, where `w` is the
    /// weight of the *new* batch (torch `momentum`, or `1/num_batches_tracked` for its cumulative average).
    public static func updateRunningAverage(_ running: inout [Double], toward value: [Double], weight: Double) {
        precondition(value.count == running.count)
        running.withUnsafeMutableBufferPointer { running in
            value.withUnsafeBufferPointer { value in
                for f in running.indices { running[f] = (1 - weight) * running[f] + weight * value[f] }
            }
        }
    }
}

extension BatchNormKernel {
    /// The kernel of a tf_keras-style stage (`batch_norm` keras, `batch_renorm`).
    public init(featureCount: Int, _ options: KerasBatchNormOptions) {
        self.init(
            featureCount: featureCount, gamma: options.gamma, beta: options.beta, epsilon: options.epsilon,
            virtualBatchSize: options.virtualBatchSize)
    }

    /// The kernel of `batch_norm` under `convention: torch` (no ghost batches in PyTorch).
    public init(featureCount: Int, _ options: TorchBatchNormOptions) {
        self.init(featureCount: featureCount, gamma: options.gamma, beta: options.beta, epsilon: options.eps)
    }
}
