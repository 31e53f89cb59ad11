internal import NormCore
internal import StageKit

/// Per-feature count, mean and biased variance of every train row seen — what sklearn's
/// `StandardScaler.partial_fit` accumulates (`n_samples_seen_`, `mean_`, `var_`), in Float64.
///
/// A batch is merged with the parallel formula of Chan, Golub & LeVeque (sklearn's
/// `_incremental_mean_and_var`), for the running part `a` (count `n_a`) and the batch `b` (`n_b`):
/// ```
/// n     = n_a + n_b
/// δ     = mean_b − mean_a
/// mean  = mean_a + δ · n_b / n
/// M2    = M2_a + M2_b + δ² · n_a · n_b / n        (M2 = variance · count, the unnormalized variance)
/// var   = M2 / n
/// ```
/// Never `E[x²] − E[x]²`: a feature around 1e4 with a spread of a few units would lose every digit.
/// The batch's own moments come from `ColumnMoments.exact` (two-pass, Float64 accumulation).
struct RunningMoments: Equatable {
    var count: Int64
    var mean: [Double]
    var variance: [Double]

    init(count: Int64, mean: [Double], variance: [Double]) {
        self.count = count
        self.mean = mean
        self.variance = variance
    }

    /// Folds `batch` (its count, mean and biased variance) into the running moments, in place (no
    /// allocation once the vectors exist). A running count of 0 takes the batch's moments as they are.
    mutating func merge(_ batch: ColumnMoments) {
        let batchCount = Double(batch.count)
        guard count > 0 else {
            mean.overwrite(with: batch.mean)
            variance.overwrite(with: batch.variance)
            count = Int64(batch.count)
            return
        }
        let runningCount = Double(count)
        let total = runningCount + batchCount
        for f in mean.indices {
            let delta = batch.mean[f] - mean[f]
            let unnormalized =
                variance[f] * runningCount + batch.variance[f] * batchCount
                + delta * delta * runningCount * batchCount / total
            mean[f] += delta * batchCount / total
            variance[f] = max(0, unnormalized / total)
        }
        // Saturating: a restored n_samples_seen near Int64.max must not trap (the weights above are
        // Doubles, so a saturated count only stops the statistics from moving).
        let (sum, overflow) = count.addingReportingOverflow(Int64(batch.count))
        count = overflow ? .max : sum
    }

    /// sklearn's `scale_`: `sqrt(var)`, or 1 for a feature sklearn's `_is_constant_feature` calls
    /// constant — `var ≤ n·ε·var + (n·mean·ε)²` with ε = Float64's machine epsilon, the bound on the
    /// variance that rounding alone can produce for a constant column (`_handle_zeros_in_scale`).
    func scale(into target: inout [Double]) {
        if target.count != mean.count { target = [Double](repeating: 1, count: mean.count) }
        let n = Double(count), epsilon = Double.ulpOfOne
        for f in mean.indices {
            let bound = n * epsilon * variance[f] + (n * mean[f] * epsilon) * (n * mean[f] * epsilon)
            target[f] = variance[f] <= bound ? 1 : variance[f].squareRoot()
        }
    }
}
