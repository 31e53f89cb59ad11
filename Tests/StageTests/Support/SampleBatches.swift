import NormCore

/// Deterministic test batches: features on different scales (≈1e4, ≈1e-3, a constant, ≈N(0, 1)-ish),
/// like the reference cases, from a seeded linear congruential generator.
struct SampleBatches {
    private var seed: UInt64

    init(seed: UInt64 = 42) { self.seed = seed }

    /// Uniform in [0, 1).
    mutating func unit() -> Double {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        return Double(seed >> 11) / Double(1 << 53)
    }

    /// `rows × 4` values: ~1e4 drifting, ~1e-3, constant 2.5, spread around 0.
    mutating func batch(rows: Int, shift: Double = 0) -> FeatureBatch {
        var values: [Float] = []
        for _ in 0..<rows {
            values.append(Float(1e4 + shift + 300 * (unit() - 0.5)))
            values.append(Float(1e-3 * (1 + unit())))
            values.append(2.5)
            values.append(Float(4 * (unit() - 0.5) + shift / 1000))
        }
        return FeatureBatch(rows: rows, features: 4, values: values)
    }

    /// `count` train batches of `rows` rows whose mean drifts.
    mutating func batches(_ count: Int, rows: Int) -> [FeatureBatch] {
        (0..<count).map { batch(rows: rows, shift: Double($0) * 50) }
    }
}

/// Per-column mean and (biased) standard deviation of a batch, in Float64, for property checks.
func columnSummary(_ batch: FeatureBatch) -> (mean: [Double], std: [Double]) {
    let moments = ColumnMoments(of: batch)
    return (moments.mean, moments.variance.map { $0.squareRoot() })
}
