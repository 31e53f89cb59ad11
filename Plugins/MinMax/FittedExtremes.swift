internal import NormCore

/// Per-feature running minimum and maximum — everything `partial_fit` accumulates; the rest of
/// sklearn's attributes are derived from these and the feature range.
struct FittedExtremes: Equatable {
    var minimum: [Double]
    var maximum: [Double]

    init(minimum: [Double], maximum: [Double]) {
        self.minimum = minimum
        self.maximum = maximum
    }

    /// Extremes of one non-empty batch, walked row by row (contiguous in memory).
    init(of batch: FeatureBatch) {
        var minimum = [Double](repeating: .infinity, count: batch.features)
        var maximum = [Double](repeating: -.infinity, count: batch.features)
        batch.withUnsafeValues { values in
            for row in 0..<batch.rows {
                let base = row * batch.features
                for f in 0..<batch.features {
                    let x = Double(values[base + f])
                    minimum[f] = min(minimum[f], x)
                    maximum[f] = max(maximum[f], x)
                }
            }
        }
        self.init(minimum: minimum, maximum: maximum)
    }

    func merged(with other: FittedExtremes) -> FittedExtremes {
        FittedExtremes(minimum: zip(minimum, other.minimum).map { min($0, $1) },
                       maximum: zip(maximum, other.maximum).map { max($0, $1) })
    }

    var range: [Double] { zip(maximum, minimum).map { $0 - $1 } }

    /// sklearn's `scale_` and `min_` for `featureRange`.
    func coefficients(for featureRange: MinMaxRange) -> (scale: [Double], min: [Double]) {
        let width = featureRange.high - featureRange.low
        let scale = range.map { width / ($0 < MinMaxStage.zeroRangeThreshold ? 1 : $0) }
        let shift = zip(minimum, scale).map { featureRange.low - $0 * $1 }
        return (scale, shift)
    }
}
