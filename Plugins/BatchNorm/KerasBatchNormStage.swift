public import NormCore
public import StageKit

/// `type: batch_norm` with `convention: keras` (the default; alias `tf_keras`) — tf_keras (Keras 2)
/// `BatchNormalization` on 2-D feature vectors (its non-fused path), parameters with Keras' names.
///
/// Train, with the batch's **biased** moments `μ_B`, `σ²_B` (÷N, what tf_keras uses for the output
/// *and* the moving variance):
/// ```
/// y = γ·(x − μ_B)/√(σ²_B + ε) + β
/// moving_mean     −= (moving_mean     − μ_B )·(1 − momentum)
/// moving_variance −= (moving_variance − σ²_B)·(1 − momentum)
/// ```
/// Infer: the same formula with `moving_mean`, `moving_variance`; nothing changes.
///
/// Defaults: `momentum` 0.99 (the fraction of the moving statistics *kept* — PyTorch's momentum is
/// the opposite, hence the warning below 0.5), `epsilon` 1e-3, `center`/`scale` true, `gamma` 1,
/// `beta` 0, initial `moving_mean` 0 and `moving_variance` 1 (tf_keras' initializers; constants
/// through `moving_mean_initializer` / `moving_variance_initializer`, overridden by a restored checkpoint).
///
/// `virtual_batch_size: V` (ghost batch norm): a train batch of N rows (a multiple of V) is split
/// into `G = N/V` ghost batches, ghost `j` = rows `j, j+G, j+2G, …`. Strided, not contiguous blocks,
/// because that is what tf_keras' reshape to `(V, G, F)` does — a contiguous split would disagree with
/// a trainer using the same layer whenever row order carries information. Each ghost batch is
/// normalized with its own moments; the moving statistics are updated once from the mean of the
/// ghost means and of the ghost variances. Infer accepts any N.
///
/// State: `moving_mean`, `moving_variance` (tf_keras' variable names).
public final class KerasBatchNormStage: StatisticsTransaction, MomentsFusingStage, AffineTrainingStage {
    public static let convention = "keras"

    public let featureCount: Int
    public let options: KerasBatchNormOptions
    /// `@exclusivity(unchecked)` on the state a train batch touches: the chain calls a stage from one
    /// thread, batch after batch (`Stage`), and every access is a short one within this class, none
    /// overlapping another; the run-time check of each (`swift_beginAccess`) cost more than the
    /// per-feature arithmetic at 16 features (callgrind, BENCHMARKS.md "Issue 15, chain per-batch overhead").
    @exclusivity(unchecked) public internal(set) var movingMean: [Double]
    @exclusivity(unchecked) public internal(set) var movingVariance: [Double]
    @exclusivity(unchecked) var kernel: BatchNormKernel
    /// Storage for `setStatisticsAside()`, allocated once.
    @exclusivity(unchecked) private var asideMean: [Double]
    @exclusivity(unchecked) private var asideVariance: [Double]

    public init(featureCount: Int, options: KerasBatchNormOptions) {
        self.featureCount = featureCount
        self.options = options
        movingMean = options.initialMean ?? [Double](repeating: 0, count: featureCount)
        movingVariance = options.initialVariance ?? [Double](repeating: 1, count: featureCount)
        kernel = BatchNormKernel(featureCount: featureCount, options)
        asideMean = movingMean
        asideVariance = movingVariance
    }

    public var kind: String { BatchNormFactory.kind }
    public var stateVersion: UInt32 { 1 }
    public var trainingRowMultiple: Int { kernel.trainingRowMultiple }
    public var fingerprint: [String: String] {
        [
            "kind": kind, "convention": Self.convention, "featureCount": String(featureCount),
            "virtual_batch_size": options.virtualBatchSize.map(String.init) ?? "none",
        ]
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        _ = try process(&batch, mode: mode, moments: nil, nextShift: nil)
    }

    public func trainMomentsShift() -> [Float]? { kernel.trainShift(nearRunningMean: movingMean) }

    public func process(_ batch: inout FeatureBatch, mode: Mode, moments given: ColumnMoments?, nextShift: [Float]?) throws(StageError)
        -> AffineMomentsKernel.Result?
    {
        guard try kernel.admits(batch, mode: mode, kind: kind) else { return nil }
        switch mode {
        case .train:
            let moments = kernel.moments(of: batch, nearRunningMean: movingMean, given: given)
            let fused = kernel.normalize(&batch, with: moments, nextShift: nextShift)
            BatchNormKernel.assignMovingAverage(&movingMean, toward: moments.combined.mean, momentum: options.momentum)
            BatchNormKernel.assignMovingAverage(&movingVariance, toward: moments.combined.variance, momentum: options.momentum)
            return fused
        case .infer:
            kernel.normalize(&batch, mean: movingMean, variance: movingVariance)
            return nil
        }
    }

    /// Without ghost batches a train batch is one affine map of the whole batch.
    public var trainsAffine: Bool { options.virtualBatchSize == nil }

    /// The train step of `process(_:mode: .train)` with the input's moments taken from `input`:
    /// the same coefficients from them, the same moving-average updates.
    public func trainAffine(from input: ColumnSummary) -> CenteredAffine {
        let moments = input.moments
        let coefficients = kernel.trainCoefficients(for: moments)
        BatchNormKernel.assignMovingAverage(&movingMean, toward: moments.mean, momentum: options.momentum)
        BatchNormKernel.assignMovingAverage(&movingVariance, toward: moments.variance, momentum: options.momentum)
        return coefficients
    }

    /// Infer is one affine map from the moving statistics (`process(_:mode: .infer)`'s).
    public func inferAffine() -> CenteredAffine? { kernel.inferCoefficients(mean: movingMean, variance: movingVariance) }

    public var parameters: [String: StageParameter] { options.parameters }

    public func setStatisticsAside() {
        asideMean.overwrite(with: movingMean)
        asideVariance.overwrite(with: movingVariance)
    }

    public func restoreStatisticsSetAside() {
        movingMean.overwrite(with: asideMean)
        movingVariance.overwrite(with: asideVariance)
    }

    public var statisticsAreFinite: Bool { movingMean.allFinite && movingVariance.allFinite }

    public func saveState() -> StageState {
        StageState(
            kind: kind, stateVersion: stateVersion,
            statistics: ["moving_mean": movingMean, "moving_variance": movingVariance])
    }

    public func restoreState(_ state: StageState) throws(StageError) {
        try state.checkCompatible(kind: kind, upTo: stateVersion)
        let mean = try state.statistic("moving_mean", count: featureCount)
        let variance = try state.statistic("moving_variance", count: featureCount)
        guard variance.allSatisfy({ $0 >= 0 }) else {
            throw .invalidState(kind: kind, "'moving_variance' holds a negative value")
        }
        movingMean = mean
        movingVariance = variance
    }
}
