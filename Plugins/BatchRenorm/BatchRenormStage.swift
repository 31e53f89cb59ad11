public import BatchNorm
public import NormCore
public import StageKit

/// `type: batch_renorm` — tf_keras (Keras 2) `BatchNormalization(renorm=True)` (Ioffe 2017, "Batch
/// Renormalization"), on 2-D feature vectors. PyTorch has no batch renorm, so only `convention:
/// keras`/`tf_keras` exists.
///
/// Train, with `μ_B`, `σ²_B` the biased batch moments (with ghost batches: the means over ghost
/// batches of their moments) and the renorm statistics *before* this batch's update:
/// ```
/// σ_B = √(σ²_B + ε)
/// rs  = max(renorm_stddev, √ε)                 (guards the division while renorm_stddev is tiny)
/// r   = clamp(σ_B / rs, rmin, rmax)            (rmin first, then rmax; a missing bound is not applied)
/// d   = clamp((μ_B − renorm_mean) / rs, −dmax, dmax)
/// y   = γ·((x − μ_B)/σ_B · r + d) + β          (with ghost batches: μ, σ of each ghost batch, one r, d)
/// renorm_mean, renorm_stddev −= (· − μ_B), (· − σ_B) · (1 − renorm_momentum)
/// moving_mean, moving_stddev −= (· − μ_B), (· − σ_B) · (1 − momentum)
/// moving_variance = max(moving_stddev² − ε, 0)
/// ```
/// Infer is plain batch norm on `moving_mean`, `moving_variance`. r and d let training use the same
/// normalization inference will (the batch's statistics corrected toward the running ones), which is
/// what makes small or non-i.i.d. batches train well; the clipping keeps the correction bounded while
/// the running statistics are still poor.
///
/// Defaults (tf_keras'): `momentum` 0.99, `renorm_momentum` 0.99 (fractions *kept*), `epsilon` 1e-3,
/// `center`/`scale` true, `gamma` 1, `beta` 0, `renorm_clipping` none (no bounds at all),
/// `virtual_batch_size` none (ghost batches strided like `batch_norm`'s). Optional `renorm_warmup:
/// {start, end}` (off by default) ramps the clipping from plain batch norm, see `RenormWarmup`.
///
/// State: `moving_mean`, `moving_variance`, `moving_stddev`, `renorm_mean`, `renorm_stddev` (tf_keras'
/// variable names) and counter `train_batches` (drives the warm-up; 0 when a restored state lacks it).
public final class BatchRenormStage: StatisticsTransaction, MomentsFusingStage, AffineTrainingStage {
    public static let kind = "batch_renorm"
    public static let convention = "keras"

    public let featureCount: Int
    public let options: KerasBatchNormOptions
    public let renormMomentum: Double
    public let clipping: RenormClipping
    public let warmup: RenormWarmup?
    /// `@exclusivity(unchecked)` on the state a train batch touches: the chain calls a stage from one
    /// thread, batch after batch (`Stage`), and every access is a short one within this class, none
    /// overlapping another; the run-time check of each (`swift_beginAccess`) cost more than the
    /// per-feature arithmetic at 16 features (callgrind, BENCHMARKS.md "Issue 15, chain per-batch overhead").
    @exclusivity(unchecked) private var statistics: RenormStatistics
    @exclusivity(unchecked) public private(set) var trainBatches: Int64 = 0
    @exclusivity(unchecked) private var kernel: BatchNormKernel
    /// Storage for `setStatisticsAside()`, allocated once.
    @exclusivity(unchecked) private var aside: RenormStatistics
    @exclusivity(unchecked) private var asideTrainBatches: Int64 = 0
    /// Per-batch scratch, kept so that a warm stage allocates nothing: `σ_B`, `r` and `d` per feature.
    @exclusivity(unchecked) private var batchStddev: [Double], r: [Double], d: [Double]

    public init(
        featureCount: Int, options: KerasBatchNormOptions, renormMomentum: Double = 0.99,
        clipping: RenormClipping = .none, warmup: RenormWarmup? = nil
    ) {
        self.featureCount = featureCount
        self.options = options
        self.renormMomentum = renormMomentum
        self.clipping = clipping
        self.warmup = warmup
        statistics = RenormStatistics(featureCount: featureCount)
        kernel = BatchNormKernel(featureCount: featureCount, options)
        aside = RenormStatistics(featureCount: featureCount)
        batchStddev = [Double](repeating: 0, count: featureCount)
        r = batchStddev
        d = batchStddev
    }

    public var kind: String { Self.kind }
    public var stateVersion: UInt32 { 1 }
    public var trainingRowMultiple: Int { kernel.trainingRowMultiple }
    /// Includes `epsilon`: the stored `moving_variance` is `moving_stddev² − ε`, so it means something
    /// else under another epsilon.
    public var fingerprint: [String: String] {
        [
            "kind": kind, "convention": Self.convention, "featureCount": String(featureCount),
            "virtual_batch_size": options.virtualBatchSize.map(String.init) ?? "none", "epsilon": String(options.epsilon),
        ]
    }

    /// The bounds the next train batch will use (the warm-up's, or the configured ones).
    public var currentClipping: RenormClipping {
        warmup?.clipping(atTrainBatch: trainBatches, target: clipping) ?? clipping
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        _ = try process(&batch, mode: mode, moments: nil, nextShift: nil)
    }

    public func trainMomentsShift() -> [Float]? { kernel.trainShift(nearRunningMean: statistics.renormMean) }

    public func process(_ batch: inout FeatureBatch, mode: Mode, moments given: ColumnMoments?, nextShift: [Float]?) throws(StageError)
        -> AffineMomentsKernel.Result?
    {
        guard try kernel.admits(batch, mode: mode, kind: kind) else { return nil }
        switch mode {
        case .train:
            return train(&batch, given: given, nextShift: nextShift)
        case .infer:
            kernel.normalize(&batch, mean: statistics.movingMean, variance: statistics.movingVariance)
            return nil
        }
    }

    private func train(_ batch: inout FeatureBatch, given: ColumnMoments?, nextShift: [Float]?) -> AffineMomentsKernel.Result? {
        train(&batch, moments: kernel.moments(of: batch, nearRunningMean: statistics.renormMean, given: given), nextShift: nextShift)
    }

    /// A train batch normalized with `moments` (its own, or a sync group's merged ones); with
    /// `nextShift`, the write pass also returns the next stage's moments of what it wrote.
    @discardableResult
    func train(_ batch: inout FeatureBatch, moments: BatchMoments, nextShift: [Float]? = nil) -> AffineMomentsKernel.Result? {
        let epsilon = options.epsilon
        let bounds = currentClipping
        let batchMean = moments.combined.mean
        Self.corrections(
            variance: moments.combined.variance, mean: batchMean, renormMean: statistics.renormMean,
            renormStddev: statistics.renormStddev, epsilon: epsilon, bounds: bounds, stddev: &batchStddev, r: &r, d: &d)
        let fused = kernel.normalize(&batch, with: moments, r: r, d: d, combinedStddev: batchStddev, nextShift: nextShift)
        update(batchMean: batchMean)
        return fused
    }

    /// Without ghost batches a train batch is one affine map of the whole batch.
    public var trainsAffine: Bool { options.virtualBatchSize == nil }

    /// The train step of `train(_:moments:nextShift:)` with the input's moments taken from `input`:
    /// the same `σ_B`, r, d and coefficients from them, the same updates.
    public func trainAffine(from input: ColumnSummary) -> CenteredAffine {
        let moments = input.moments
        Self.corrections(
            variance: moments.variance, mean: moments.mean, renormMean: statistics.renormMean, renormStddev: statistics.renormStddev,
            epsilon: options.epsilon, bounds: currentClipping, stddev: &batchStddev, r: &r, d: &d)
        let coefficients = kernel.trainCoefficients(for: moments, r: r, d: d, combinedStddev: batchStddev)
        update(batchMean: moments.mean)
        return coefficients
    }

    /// Infer is plain batch norm from the moving statistics (`process(_:mode: .infer)`'s map).
    public func inferAffine() -> CenteredAffine? {
        kernel.inferCoefficients(mean: statistics.movingMean, variance: statistics.movingVariance)
    }

    /// The running statistics' update after a train batch with mean `batchMean` (and `σ_B` in
    /// `batchStddev`), and the batch count.
    private func update(batchMean: [Double]) {
        let epsilon = options.epsilon
        BatchNormKernel.assignMovingAverage(&statistics.renormMean, toward: batchMean, momentum: renormMomentum)
        BatchNormKernel.assignMovingAverage(&statistics.renormStddev, toward: batchStddev, momentum: renormMomentum)
        BatchNormKernel.assignMovingAverage(&statistics.movingMean, toward: batchMean, momentum: options.momentum)
        BatchNormKernel.assignMovingAverage(&statistics.movingStddev, toward: batchStddev, momentum: options.momentum)
        let movingStddev = statistics.movingStddev
        Self.variances(of: movingStddev, epsilon: epsilon, into: &statistics.movingVariance)
        trainBatches = trainBatches == .max ? .max : trainBatches + 1 // saturating: a restored counter may be Int64.max
    }

    /// `σ_B = √(σ²_B + ε)` (`StandardDeviationKernel`), then `r` and `d` per feature (the formulas at
    /// the type), into the stage's storage: the arrays are passed in, not reached through `self`, and
    /// read through raw pointers, so the loop pays no exclusivity or bounds check per element, and with
    /// the bounds made non-optional it has no branch either. A missing bound is ±∞, which is exact:
    /// `max(x, −∞)` and `min(x, +∞)` are `x` for every x, NaN included (`RenormClipping.clampR`).
    private static func corrections(
        variance: [Double], mean: [Double], renormMean: [Double], renormStddev: [Double], epsilon: Double, bounds: RenormClipping,
        stddev: inout [Double], r: inout [Double], d: inout [Double]
    ) {
        let count = variance.count
        precondition(mean.count == count && renormMean.count == count && renormStddev.count == count && r.count == count && d.count == count)
        StandardDeviationKernel.compute(variance, epsilon: epsilon, into: &stddev)
        let floor = epsilon.squareRoot()
        let rmin = bounds.rmin ?? -.infinity, rmax = bounds.rmax ?? .infinity, dmax = bounds.dmax ?? .infinity
        mean.withUnsafeBufferPointer { mean in
            renormMean.withUnsafeBufferPointer { renormMean in
                renormStddev.withUnsafeBufferPointer { renormStddev in
                    stddev.withUnsafeBufferPointer { stddev in
                        r.withUnsafeMutableBufferPointer { r in
                            d.withUnsafeMutableBufferPointer { d in
                                for f in 0..<count {
                                    let reference = max(renormStddev[f], floor)
                                    r[f] = min(max(stddev[f] / reference, rmin), rmax)
                                    d[f] = min(max((mean[f] - renormMean[f]) / reference, -dmax), dmax)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `moving_variance = max(moving_stddev² − ε, 0)`, in place.
    private static func variances(of stddev: [Double], epsilon: Double, into variance: inout [Double]) {
        precondition(stddev.count == variance.count)
        stddev.withUnsafeBufferPointer { stddev in
            variance.withUnsafeMutableBufferPointer { variance in
                for f in variance.indices { variance[f] = max(stddev[f] * stddev[f] - epsilon, 0) }
            }
        }
    }

    /// tf_keras' constructor arguments (renorm ones included) as recorded in state files; the
    /// clipping bounds and warm-up are flattened (`renorm_clipping_rmax`, `renorm_warmup_start`, …),
    /// `null` where not set.
    public var parameters: [String: StageParameter] {
        var parameters = options.parameters
        parameters["renorm_momentum"] = .number(renormMomentum)
        parameters["renorm_clipping_rmax"] = .optional(clipping.rmax)
        parameters["renorm_clipping_rmin"] = .optional(clipping.rmin)
        parameters["renorm_clipping_dmax"] = .optional(clipping.dmax)
        parameters["renorm_warmup_start"] = .optional(warmup.map { Double($0.start) })
        parameters["renorm_warmup_end"] = .optional(warmup.map { Double($0.end) })
        return parameters
    }

    public func setStatisticsAside() {
        aside.overwrite(with: statistics)
        asideTrainBatches = trainBatches
    }

    public func restoreStatisticsSetAside() {
        statistics.overwrite(with: aside)
        trainBatches = asideTrainBatches
    }

    public var statisticsAreFinite: Bool { statistics.allFinite }

    public func saveState() -> StageState {
        StageState(kind: kind, stateVersion: stateVersion, statistics: statistics.byName, counters: ["train_batches": trainBatches])
    }

    public func restoreState(_ state: StageState) throws(StageError) {
        try state.checkCompatible(kind: kind, upTo: stateVersion)
        var loaded: [String: [Double]] = [:]
        for name in RenormStatistics.names {
            loaded[name] = try state.statistic(name, count: featureCount)
        }
        for name in ["moving_variance", "moving_stddev", "renorm_stddev"] where loaded[name, default: []].contains(where: { $0 < 0 }) {
            throw .invalidState(kind: kind, "'\(name)' holds a negative value")
        }
        let batches = state.counters["train_batches"] ?? 0
        guard batches >= 0 else { throw .invalidState(kind: kind, "'train_batches' is negative") }
        statistics = RenormStatistics(
            movingMean: loaded["moving_mean", default: []], movingVariance: loaded["moving_variance", default: []],
            movingStddev: loaded["moving_stddev", default: []], renormMean: loaded["renorm_mean", default: []],
            renormStddev: loaded["renorm_stddev", default: []])
        trainBatches = batches
    }
}
