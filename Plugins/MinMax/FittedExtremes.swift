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

    /// The extremes of a first batch, from `ColumnExtremesKernel`'s Float32 ones (every Float32 is
    /// exactly a Double, so nothing is rounded).
    init(low: [Float], high: [Float]) {
        self.init(minimum: low.map(Double.init), maximum: high.map(Double.init))
    }

    /// Folds a batch's Float32 extremes into these in place — the same `min(old, new)`,
    /// `max(old, new)` as `merged(with:)`, without allocating (when the arrays are not shared).
    mutating func merge(low: [Float], high: [Float]) {
        Self.fold(low, into: &minimum, min)
        Self.fold(high, into: &maximum, max)
    }

    private static func fold(_ batch: [Float], into running: inout [Double], _ pick: (Double, Double) -> Double) {
        running.withUnsafeMutableBufferPointer { running in
            batch.withUnsafeBufferPointer { batch in
                for f in running.indices { running[f] = pick(running[f], Double(batch[f])) }
            }
        }
    }

    func merged(with other: FittedExtremes) -> FittedExtremes {
        FittedExtremes(
            minimum: zip(minimum, other.minimum).map { min($0, $1) },
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

    /// The same transform as `coefficients(for:)` in the centered Float32 form
    /// `y = (x − data_min)·scale + lo`, written into the caller's reusable `target`: `x − data_min`
    /// is exact for a feature far from zero, where `x·scale + min` would cancel in Float32.
    func centered(for featureRange: MinMaxRange, into target: inout CenteredAffine) {
        let width = featureRange.high - featureRange.low, low = featureRange.low
        // Raw pointers and `rounded` inlined: no call per feature (see `CenteredAffine.withUnsafeMutableCoefficients`).
        minimum.withUnsafeBufferPointer { minimum in
            maximum.withUnsafeBufferPointer { maximum in
                target.withUnsafeMutableCoefficients { center, scale, offset in
                    precondition(minimum.count == center.count && maximum.count == center.count)
                    for f in 0..<center.count {
                        let range = maximum[f] - minimum[f]
                        (center[f], scale[f], offset[f]) = CenteredAffine.rounded(
                            center: minimum[f], scale: width / (range < MinMaxStage.zeroRangeThreshold ? 1 : range), offset: low)
                    }
                }
            }
        }
    }
}
