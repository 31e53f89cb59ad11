public import NormCore
public import StageKit

/// `type: min_max` — scikit-learn's `MinMaxScaler`, fitted incrementally with `partial_fit`.
///
/// Formula (per feature, `[lo, hi]` = `feature_range`, default `[0, 1]`; `clip` default `false`):
/// ```
/// data_min, data_max = running minimum / maximum over every train batch seen
/// data_range = data_max − data_min          (a range < 10·eps(Float32) ≈ 1.19e-6 counts as 0 → divide by 1)
/// scale = (hi − lo) / data_range
/// min   = lo − data_min · scale
/// y     = x · scale + min,  then clamped to [lo, hi] when clip is true
/// ```
/// A train batch is `partial_fit(batch)` followed by `transform(batch)`, so the batch is scaled with
/// statistics that already include it (it never leaves `[lo, hi]`); an infer batch is `transform` only.
///
/// Why these choices:
/// - The zero-range threshold is sklearn's `10·eps(dtype)` for the Float32 data normd receives, not
///   Float64's: a column whose nonzero spread is below 1.19e-6 maps to `x − data_min + lo` exactly as
///   sklearn does on float32 input, instead of blowing tiny noise up to the full range.
/// - `y = x·scale + min` (sklearn's order) rather than `(x − data_min)/range`, so the trainer can
///   reload `scale`/`min` and get the same numbers.
/// - **Infer before any fit passes the data through unchanged** (identity, no clipping). sklearn
///   raises `NotFittedError`; a daemon serving a stream must not fail a request because no train
///   batch has arrived yet, and the trainer can tell from `n_samples_seen == 0` in the state.
///
/// State (sklearn's fitted attributes without the trailing underscore): vectors `data_min`,
/// `data_max`, `data_range`, `scale`, `min` (absent until the first fit) and counter `n_samples_seen`.
public final class MinMaxStage: StatisticsTransaction, MomentsFusingStage, AffineTrainingStage {
    public static let kind = "min_max"
    public static let convention = "sklearn"
    /// sklearn's `10 * np.finfo(np.float32).eps`: ranges below it count as zero.
    public static let zeroRangeThreshold = 10 * Double(Float.ulpOfOne)

    public let featureCount: Int
    public let range: MinMaxRange
    public let clip: Bool

    /// `@exclusivity(unchecked)` on the state a train batch touches: the chain calls a stage from one
    /// thread, batch after batch (`Stage`), and every access is a short one within this class, none
    /// overlapping another; the run-time check of each (`swift_beginAccess`) cost more than the
    /// per-feature arithmetic at 16 features (callgrind, BENCHMARKS.md "Issue 15, chain per-batch overhead").
    @exclusivity(unchecked) var fitted: FittedExtremes?
    @exclusivity(unchecked) var samplesSeen: Int64 = 0
    /// What `setStatisticsAside()` copied (into storage kept from batch to batch, so that `fitted` can
    /// be merged in place): whether there was a fit, and its extremes.
    @exclusivity(unchecked) private var asideHasFit = false
    @exclusivity(unchecked) private var aside = FittedExtremes(minimum: [], maximum: [])
    @exclusivity(unchecked) private var asideSamplesSeen: Int64 = 0
    /// Reused per batch (no allocation once warm): the coefficients, a batch's Float32 extremes and
    /// the fused pass's moments storage.
    @exclusivity(unchecked) private var transform: CenteredAffine
    @exclusivity(unchecked) private var batchLow: [Float] = [], batchHigh: [Float] = []
    @exclusivity(unchecked) private var fusedMoments = ColumnMoments(count: 0, mean: [], variance: [])

    public init(featureCount: Int, range: MinMaxRange = .unit, clip: Bool = false) {
        self.featureCount = featureCount
        self.range = range
        self.clip = clip
        transform = CenteredAffine(featureCount: featureCount)
    }

    public var kind: String { Self.kind }
    public var stateVersion: UInt32 { 1 }
    public var trainingRowMultiple: Int { 1 }
    public var fingerprint: [String: String] {
        ["kind": Self.kind, "convention": Self.convention, "featureCount": String(featureCount)]
    }

    public func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError) {
        _ = try process(&batch, mode: mode, moments: nil, nextShift: nil)
    }

    /// min_max learns extremes, not moments: it is never given moments, only hands them on.
    public func trainMomentsShift() -> [Float]? { nil }

    public func process(_ batch: inout FeatureBatch, mode: Mode, moments _: ColumnMoments?, nextShift: [Float]?) throws(StageError)
        -> AffineMomentsKernel.Result?
    {
        guard batch.features == featureCount else {
            throw StageError.widthMismatch(expected: featureCount, got: batch.features)
        }
        guard batch.rows > 0 else { return nil }
        if mode == .train {
            ColumnExtremesKernel.measure(batch, low: &batchLow, high: &batchHigh)
            fit(low: batchLow, high: batchHigh, rows: batch.rows)
        }
        guard let fitted else { return nil } // never fitted: identity (see the type's documentation)
        fitted.centered(for: range, into: &transform)
        let bounds = clip ? (low: Float(range.low), high: Float(range.high)) : nil
        if let nextShift {
            return AffineMomentsKernel.apply(to: &batch, transform, clamp: bounds, momentsAbout: nextShift, reusing: &fusedMoments)
        }
        AffineTransform.apply(to: &batch, transform)
        if let bounds {
            AffineTransform.clamp(&batch, low: bounds.low, high: bounds.high)
        }
        return nil
    }

    /// `partial_fit` of a batch of `rows` rows with these Float32 extremes.
    private func fit(low: [Float], high: [Float], rows: Int) {
        if fitted == nil {
            fitted = FittedExtremes(low: low, high: high)
        } else {
            fitted?.merge(low: low, high: high)
        }
        // Saturating: a restored n_samples_seen near Int64.max must not trap (it is a count for
        // the trainer's information; nothing divides by it).
        let (sum, overflow) = samplesSeen.addingReportingOverflow(Int64(rows))
        samplesSeen = overflow ? .max : sum
    }

    /// Without `clip` a train batch is one affine map (`clip` clamps after it: not affine).
    public var trainsAffine: Bool { !clip }

    /// The train step of `process(_:mode: .train)` with the batch's extremes taken from `input`
    /// (exact either way: they are input values): the same fit, the same coefficients.
    public func trainAffine(from input: ColumnSummary) -> CenteredAffine {
        fit(low: input.low, high: input.high, rows: input.count)
        fitted?.centered(for: range, into: &transform)
        return transform
    }

    /// `process(_:mode: .infer)`'s map: `nil` with `clip` (a clamp follows) or before any fit (the
    /// identity, which `process` applies by not writing).
    public func inferAffine() -> CenteredAffine? {
        guard !clip, let fitted else { return nil }
        fitted.centered(for: range, into: &transform)
        return transform
    }

    /// sklearn's constructor arguments, as recorded in state files.
    public var parameters: [String: StageParameter] {
        ["feature_range": .numbers([range.low, range.high]), "clip": .flag(clip)]
    }

    public func setStatisticsAside() {
        asideHasFit = fitted != nil
        if let fitted {
            aside.minimum.overwrite(with: fitted.minimum)
            aside.maximum.overwrite(with: fitted.maximum)
        }
        asideSamplesSeen = samplesSeen
    }

    public func restoreStatisticsSetAside() {
        if !asideHasFit {
            fitted = nil
        } else if fitted == nil {
            fitted = FittedExtremes(minimum: Array(aside.minimum), maximum: Array(aside.maximum))
        } else {
            fitted?.minimum.overwrite(with: aside.minimum)
            fitted?.maximum.overwrite(with: aside.maximum)
        }
        samplesSeen = asideSamplesSeen
    }

    public var statisticsAreFinite: Bool {
        guard let fitted else { return true }
        return fitted.minimum.allFinite && fitted.maximum.allFinite
    }

    public func saveState() -> StageState {
        var state = StageState(kind: Self.kind, stateVersion: stateVersion, counters: ["n_samples_seen": samplesSeen])
        if let fitted {
            let coefficients = fitted.coefficients(for: range)
            state.statistics = [
                "data_min": fitted.minimum,
                "data_max": fitted.maximum,
                "data_range": fitted.range,
                "scale": coefficients.scale,
                "min": coefficients.min,
            ]
        }
        return state
    }

    /// Restores `data_min`, `data_max` and `n_samples_seen`; `data_range`, `scale` and `min` are
    /// derived from them (and from this stage's `feature_range`), so they are not read back.
    public func restoreState(_ state: StageState) throws(StageError) {
        try state.checkCompatible(kind: Self.kind, upTo: stateVersion)
        let seen = try state.counter("n_samples_seen")
        guard seen >= 0 else { throw StageError.invalidState(kind: Self.kind, "'n_samples_seen' is negative") }
        let hasVectors = state.statistics["data_min"] != nil || state.statistics["data_max"] != nil
        guard hasVectors else {
            guard seen == 0 else {
                throw StageError.invalidState(kind: Self.kind, "'n_samples_seen' is \(seen) but 'data_min' and 'data_max' are missing")
            }
            fitted = nil
            samplesSeen = 0
            return
        }
        let minimum = try state.statistic("data_min", count: featureCount)
        let maximum = try state.statistic("data_max", count: featureCount)
        guard zip(minimum, maximum).allSatisfy({ $0 <= $1 }) else {
            throw StageError.invalidState(kind: Self.kind, "'data_min' exceeds 'data_max'")
        }
        fitted = FittedExtremes(minimum: minimum, maximum: maximum)
        samplesSeen = seen
    }
}
