public import NormCore
public import StageKit

/// `type: standard_scale` — scikit-learn's `StandardScaler`, fitted incrementally with `partial_fit`.
///
/// Formula (per feature; `with_mean`, `with_std` default `true`):
/// ```
/// n_samples_seen, mean, var = running count, mean and biased variance of every train row
///                             (Chan's parallel merge in Float64, see RunningMoments)
/// scale = sqrt(var), or 1 where the feature is constant (sklearn's _is_constant_feature)
/// y     = (x − mean) / scale      with_mean: false drops "− mean", with_std: false drops "/ scale"
/// ```
/// A train batch is `partial_fit(batch)` followed by `transform(batch)` — as `min_max` does — so the
/// batch is scaled with statistics that already include it; an infer batch is `transform` only.
///
/// Why these choices:
/// - The state holds exactly sklearn's fitted attributes (without the trailing underscore), and only
///   those sklearn sets: `mean` unless both options are off, `var` and `scale` with `with_std`, and
///   always `n_samples_seen`. A trainer rebuilds the scaler without a translation table, and the two
///   options are in the fingerprint because they decide which statistics exist.
/// - **Infer before any fit passes the data through unchanged**, like `min_max`: sklearn raises
///   `NotFittedError`, a daemon must not fail a request because no train batch has arrived yet.
/// - The batch's moments are summed in Float64 (`ColumnMoments.exact`), as sklearn's
///   `_safe_accumulator_op` does, not with the batch-norm stages' blocked Float32 sums: the statistics
///   then agree with sklearn's to ~1e-12 relative instead of ~1e-7, so `normd.to_sklearn` hands a
///   trainer the scaler its own `partial_fit` would have fitted.
/// - The output is computed in the centered Float32 form `(x − mean₃₂)·(1/scale) + residual`
///   (`CenteredAffine`), so a feature around 1e4 does not cancel in Float32.
public final class StandardScaleStage: StatisticsTransaction {
    public static let kind = "standard_scale"
    public static let convention = "sklearn"

    public let featureCount: Int
    public let withMean: Bool
    public let withStd: Bool

    var moments: RunningMoments
    private var aside: RunningMoments
    /// Reused per batch (no allocation once warm).
    private var scale: [Double]
    private var transform: CenteredAffine

    public init(featureCount: Int, withMean: Bool = true, withStd: Bool = true) {
        self.featureCount = featureCount
        self.withMean = withMean
        self.withStd = withStd
        let zeros = [Double](repeating: 0, count: featureCount)
        moments = RunningMoments(count: 0, mean: zeros, variance: zeros)
        aside = moments
        scale = [Double](repeating: 1, count: featureCount)
        transform = CenteredAffine(featureCount: featureCount)
    }

    public var kind: String { Self.kind }
    public var stateVersion: UInt32 { 1 }
    public var trainingRowMultiple: Int { 1 }
    public var fingerprint: [String: String] {
        [
            "kind": Self.kind, "convention": Self.convention, "featureCount": String(featureCount),
            "with_mean": String(withMean), "with_std": String(withStd),
        ]
    }

    /// sklearn's constructor arguments, as recorded in state files.
    public var parameters: [String: StageParameter] {
        ["with_mean": .flag(withMean), "with_std": .flag(withStd)]
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        guard batch.features == featureCount else {
            throw .widthMismatch(expected: featureCount, got: batch.features)
        }
        guard batch.rows > 0 else { return }
        if mode == .train {
            moments.merge(ColumnMoments.exact(of: batch))
        }
        guard moments.count > 0, withMean || withStd else { return } // identity (see the type's documentation)
        moments.scale(into: &scale)
        for f in 0..<featureCount {
            transform.set(f, center: withMean ? moments.mean[f] : 0, scale: withStd ? 1 / scale[f] : 1, offset: 0)
        }
        AffineTransform.apply(to: &batch, transform)
    }

    public func setStatisticsAside() {
        aside.count = moments.count
        aside.mean.overwrite(with: moments.mean)
        aside.variance.overwrite(with: moments.variance)
    }

    public func restoreStatisticsSetAside() {
        moments.count = aside.count
        moments.mean.overwrite(with: aside.mean)
        moments.variance.overwrite(with: aside.variance)
    }

    public var statisticsAreFinite: Bool { moments.mean.allFinite && moments.variance.allFinite }

    /// Which of sklearn's vectors exist: `mean_` is None only when both options are off, `var_` and
    /// `scale_` are None without `with_std`.
    private var keepsMean: Bool { withMean || withStd }

    public func saveState() -> StageState {
        var state = StageState(kind: Self.kind, stateVersion: stateVersion, counters: ["n_samples_seen": moments.count])
        guard moments.count > 0 else { return state }
        if keepsMean { state.statistics["mean"] = moments.mean }
        if withStd {
            var scale: [Double] = []
            moments.scale(into: &scale)
            state.statistics["var"] = moments.variance
            state.statistics["scale"] = scale
        }
        return state
    }

    /// Restores `n_samples_seen`, `mean` and `var`; `scale` is derived from them, so it is not read back.
    public func restoreState(_ state: StageState) throws(StageError) {
        try state.checkCompatible(kind: Self.kind, upTo: stateVersion)
        let seen = try state.counter("n_samples_seen")
        guard seen >= 0 else { throw .invalidState(kind: Self.kind, "'n_samples_seen' is negative") }
        let zeros = [Double](repeating: 0, count: featureCount)
        guard seen > 0 else {
            moments = RunningMoments(count: 0, mean: zeros, variance: zeros)
            return
        }
        let mean = keepsMean ? try state.statistic("mean", count: featureCount) : zeros
        let variance = withStd ? try state.statistic("var", count: featureCount) : zeros
        guard variance.allSatisfy({ $0 >= 0 }) else {
            throw .invalidState(kind: Self.kind, "'var' holds a negative value")
        }
        moments = RunningMoments(count: seen, mean: mean, variance: variance)
    }
}
