public import NormCore

/// The exact moments of one member's rows at one stage's input: what a member of a sync group
/// contributes to a global step, and (merged) what every member then trains from.
///
/// Per feature, in Float64: the count `n`, the mean `μ` and the unnormalized variance
/// `M2 = Σ(x − μ)²` (Chan, Golub & LeVeque), plus the minimum and maximum when the stage needs them
/// (`min_max`). Count, mean and M2 are sufficient for every built-in stage: `standard_scale`'s sums
/// are `n·μ` and `M2 + n·μ²`, but merging those would cancel (`E[x²] − E[x]²`), so they are never formed.
///
/// Merging is Chan's pairwise formula, folded left to right **in rank order**, so the result is
/// the same bits on every member that merges the same contributions:
/// ```
/// n  = n_a + n_b
/// δ  = μ_b − μ_a
/// μ  = μ_a + δ·n_b/n
/// M2 = M2_a + M2_b + δ²·n_a·n_b/n
/// min = min(min_a, min_b), max = max(max_a, max_b)
/// ```
/// A contribution of count 0 is the identity (torch's pytorch#74944 crashed on it): it changes nothing.
public struct MomentContribution: Sendable, Equatable {
    public var count: Int64
    public var mean: [Double]
    /// `Σ(x − mean)²` per feature (the biased variance is `m2 / count`).
    public var m2: [Double]
    /// Per-feature extremes; empty when the stage does not use them.
    public var minimum: [Double]
    public var maximum: [Double]

    public init(count: Int64, mean: [Double], m2: [Double], minimum: [Double] = [], maximum: [Double] = []) {
        self.count = count
        self.mean = mean
        self.m2 = m2
        self.minimum = minimum
        self.maximum = maximum
    }

    /// The contribution of no rows: the identity of `merged(with:)`. Its extremes are ±∞ so a merge
    /// with it keeps the other side's.
    public static func empty(features: Int, extremes: Bool) -> MomentContribution {
        let zeros = [Double](repeating: 0, count: features)
        return MomentContribution(
            count: 0, mean: zeros, m2: zeros,
            minimum: extremes ? [Double](repeating: .infinity, count: features) : [],
            maximum: extremes ? [Double](repeating: -.infinity, count: features) : [])
    }

    /// The exact moments of every row of `batch`, and its extremes when `extremes`: one blocked
    /// Float64 sweep with Chan merges in row order (`ExactMomentsKernel`: within 1e-12 relative of a
    /// Float80 two-pass and 1e-11 of `ColumnMoments.exact`, tested; under half the cost of the
    /// latter — it runs on the pipeline thread inside every stage's barrier).
    public init(of batch: FeatureBatch, extremes: Bool) {
        guard batch.rows > 0 else {
            self = .empty(features: batch.features, extremes: extremes)
            return
        }
        let exact = ExactMomentsKernel.measure(batch, extremes: extremes)
        self.init(count: Int64(exact.count), mean: exact.mean, m2: exact.m2, minimum: exact.minimum, maximum: exact.maximum)
    }

    public var features: Int { mean.count }
    /// Whether every mean and M2 is finite: for moments measured from rows, whether every value was.
    public var isFinite: Bool { mean.allSatisfy(\.isFinite) && m2.allSatisfy(\.isFinite) }
    public var hasExtremes: Bool { !minimum.isEmpty }

    /// Biased variance `M2 / n` (tf_keras' moving variance, the output's variance); zeros for `n = 0`.
    public var variance: [Double] {
        guard count > 0 else { return m2.map { _ in 0 } }
        let n = Double(count)
        return m2.map { max(0, $0 / n) }
    }

    /// Unbiased variance `M2 / (n − 1)` with the **global** count, as torch's
    /// `batch_norm_gather_stats_with_counts` computes `running_var`; the biased value for `n ≤ 1`.
    public var unbiasedVariance: [Double] {
        guard count > 1 else { return variance }
        let n1 = Double(count - 1)
        return m2.map { max(0, $0 / n1) }
    }

    /// Mean and biased variance as the stages' `ColumnMoments`; `nil` for no rows.
    public var columnMoments: ColumnMoments? {
        guard count > 0, count <= Int64(Int.max) else { return nil }
        return ColumnMoments(count: Int(count), mean: mean, variance: variance)
    }

    /// Chan's merge of `self` (the lower ranks) and `other` (the next rank), see the type's documentation.
    /// - Precondition: both have the same width and both or neither carry extremes.
    public func merged(with other: MomentContribution) -> MomentContribution {
        precondition(features == other.features && hasExtremes == other.hasExtremes, "contributions of different shape")
        if other.count == 0 { return self }
        if count == 0 { return other }
        let na = Double(count), nb = Double(other.count)
        let (total, overflow) = count.addingReportingOverflow(other.count)
        let n = na + nb
        var result = self
        result.count = overflow ? .max : total
        for f in 0..<features {
            let delta = other.mean[f] - mean[f]
            result.mean[f] = mean[f] + delta * nb / n
            result.m2[f] = m2[f] + other.m2[f] + delta * delta * na * nb / n
        }
        return result.keepingExtremes(merging: other)
    }

    private func keepingExtremes(merging other: MomentContribution) -> MomentContribution {
        guard hasExtremes else { return self }
        var result = self
        for f in 0..<features {
            result.minimum[f] = Swift.min(minimum[f], other.minimum[f])
            result.maximum[f] = Swift.max(maximum[f], other.maximum[f])
        }
        return result
    }

    /// The contributions merged left to right in the given (rank) order; `nil` for none.
    public static func merge(_ parts: [MomentContribution]) -> MomentContribution? {
        guard var result = parts.first else { return nil }
        for part in parts.dropFirst() { result = result.merged(with: part) }
        return result
    }

    /// Whether the shape matches a stage of `features` features (with or without extremes) and every
    /// value is one that `count` finite Float32 rows can have. A contribution from the network is
    /// checked with this before it is merged.
    ///
    /// With `F = Float.greatestFiniteMagnitude`: count ≥ 0; `|μ| ≤ F`; `0 ≤ M2 ≤ n·F²` (Popoviciu:
    /// values in `[−F, F]` have a variance of at most `F²`), so `M2 = 0` for no rows; min ≤ max
    /// within `[−F, F]` when rows exist. Why bounds and not only finiteness: the leader merges the
    /// contributions and trains from the result without checking it again (it is its own), and two
    /// finite M2 near `Double.greatestFiniteMagnitude` merge into `+∞` (found by the `sync` fuzz
    /// target). Within these bounds Chan's merge of any number of contributions stays finite:
    /// `M2 ≤ M2_a + M2_b + (2F)²·min(n_a, n_b) ≤ 3·n·F² < 4·10⁹⁶` for `n ≤ Int64.max`.
    public func isValid(features expected: Int, extremes: Bool) -> Bool {
        guard count >= 0, mean.count == expected, m2.count == expected, hasExtremes == extremes || (!extremes && minimum.isEmpty) else {
            return false
        }
        if extremes && (minimum.count != expected || maximum.count != expected) { return false }
        let top = Double(Float.greatestFiniteMagnitude)
        let spread = Double(count) * top * top
        guard mean.allSatisfy({ abs($0) <= top }), m2.allSatisfy({ $0 >= 0 && $0 <= spread }) else { return false }
        if extremes && count > 0 {
            guard zip(minimum, maximum).allSatisfy({ -top <= $0 && $0 <= $1 && $1 <= top }) else { return false }
        }
        return true
    }
}

/// A stage that can train from the merged moments of a sync group's step instead of its own batch.
///
/// Why a separate protocol: `process(_:mode:)` fuses "measure the batch" and "learn from it"; a
/// synchronized step must split them, because between the two the moments travel to the step leader
/// and come back merged. Every built-in stage adopts it; run-time plugins cannot (the C ABI does not
/// expose moments), which is why `sync:` refuses them at validate time.
public protocol MomentSynchronizedStage: Stage {
    /// Whether contributions for this stage carry per-feature extremes (`min_max`).
    var contributesExtremes: Bool { get }
    /// Normalizes `batch` (this member's own rows, possibly none) with the step's merged moments, and
    /// updates the running statistics from them exactly as `process(_:mode: .train)` would from a
    /// batch with those moments. `merged.count > 0`.
    func train(_ batch: inout FeatureBatch, merged: MomentContribution) throws(StageError)
}
