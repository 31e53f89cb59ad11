public import NormCore
public import StageKit

/// `type: batch_norm` with `convention: torch` — PyTorch's `nn.BatchNorm1d` on `(N, C)` input,
/// parameters with PyTorch's names.
///
/// Train, with the batch mean `μ_B`, biased variance `σ²_B` (÷N) and unbiased `s²_B` (÷(N−1)):
/// ```
/// y = γ·(x − μ_B)/√(σ²_B + eps) + β
/// num_batches_tracked += 1
/// m = momentum, or 1/num_batches_tracked when momentum is null (cumulative average)
/// running_mean = (1 − m)·running_mean + m·μ_B
/// running_var  = (1 − m)·running_var  + m·s²_B      ← unbiased, unlike the output and unlike Keras
/// ```
/// Infer: the formula with `running_mean`, `running_var`. With `track_running_stats: false` there are
/// no running statistics at all and infer, like PyTorch's eval mode, normalizes with the batch's own
/// (biased) statistics.
///
/// Defaults: `momentum` 0.1 (weight of the *new* batch — the opposite of Keras), `eps` 1e-5,
/// `affine` true, `track_running_stats` true, `gamma` 1, `beta` 0; initial `running_mean` 0,
/// `running_var` 1, `num_batches_tracked` 0 (PyTorch's `reset_running_stats`). A one-row train batch
/// (PyTorch raises) is kept out by the chain's `min_rows`; if it arrives anyway the running variance
/// gets 0 rather than a division by zero.
///
/// State: `running_mean`, `running_var`, counter `num_batches_tracked`; empty without running stats.
public final class TorchBatchNormStage: StatisticsTransaction {
    public static let convention = "torch"

    public let featureCount: Int
    public let options: TorchBatchNormOptions
    public internal(set) var runningMean: [Double]
    public internal(set) var runningVariance: [Double]
    public internal(set) var batchesTracked: Int64 = 0
    var kernel: BatchNormKernel
    /// Storage for `setStatisticsAside()`, allocated once.
    private var asideMean: [Double]
    private var asideVariance: [Double]
    private var asideTracked: Int64 = 0

    public init(featureCount: Int, options: TorchBatchNormOptions) {
        self.featureCount = featureCount
        self.options = options
        runningMean = options.initialMean ?? [Double](repeating: 0, count: featureCount)
        runningVariance = options.initialVariance ?? [Double](repeating: 1, count: featureCount)
        kernel = BatchNormKernel(featureCount: featureCount, options)
        asideMean = runningMean
        asideVariance = runningVariance
    }

    public var kind: String { BatchNormFactory.kind }
    public var stateVersion: UInt32 { 1 }
    public var trainingRowMultiple: Int { 1 }
    public var fingerprint: [String: String] {
        [
            "kind": kind, "convention": Self.convention, "featureCount": String(featureCount),
            "virtual_batch_size": "none", "track_running_stats": String(options.tracksRunningStats),
        ]
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        guard try kernel.admits(batch, mode: mode, kind: kind) else { return }
        guard mode == .train || !options.tracksRunningStats else {
            kernel.normalize(&batch, mean: runningMean, variance: runningVariance)
            return
        }
        let moments = kernel.moments(of: batch, nearRunningMean: options.tracksRunningStats ? runningMean : nil)
        kernel.normalize(&batch, with: moments)
        if mode == .train && options.tracksRunningStats {
            batchesTracked = batchesTracked == .max ? .max : batchesTracked + 1 // saturating: a restored counter may be Int64.max
            let weight = options.momentum ?? 1 / Double(batchesTracked)
            BatchNormKernel.updateRunningAverage(&runningMean, toward: moments.combined.mean, weight: weight)
            BatchNormKernel.updateRunningAverage(&runningVariance, toward: moments.combined.unbiasedVariance, weight: weight)
        }
    }

    public var parameters: [String: StageParameter] { options.parameters }

    public func setStatisticsAside() {
        asideMean.overwrite(with: runningMean)
        asideVariance.overwrite(with: runningVariance)
        asideTracked = batchesTracked
    }

    public func restoreStatisticsSetAside() {
        runningMean.overwrite(with: asideMean)
        runningVariance.overwrite(with: asideVariance)
        batchesTracked = asideTracked
    }

    public var statisticsAreFinite: Bool { runningMean.allFinite && runningVariance.allFinite }

    public func saveState() -> StageState {
        guard options.tracksRunningStats else { return StageState(kind: kind, stateVersion: stateVersion) }
        return StageState(
            kind: kind, stateVersion: stateVersion,
            statistics: ["running_mean": runningMean, "running_var": runningVariance],
            counters: ["num_batches_tracked": batchesTracked])
    }

    public func restoreState(_ state: StageState) throws(StageError) {
        try state.checkCompatible(kind: kind, upTo: stateVersion)
        guard options.tracksRunningStats else {
            guard state.statistics.isEmpty && state.counters.isEmpty else {
                throw .invalidState(kind: kind, "this stage keeps no running statistics (track_running_stats: false)")
            }
            return
        }
        let mean = try state.statistic("running_mean", count: featureCount)
        let variance = try state.statistic("running_var", count: featureCount)
        let tracked = try state.counter("num_batches_tracked")
        guard variance.allSatisfy({ $0 >= 0 }) else {
            throw .invalidState(kind: kind, "'running_var' holds a negative value")
        }
        guard tracked >= 0 else { throw .invalidState(kind: kind, "'num_batches_tracked' is negative") }
        runningMean = mean
        runningVariance = variance
        batchesTracked = tracked
    }
}
