public import NormCore

/// Deterministic pseudo-random test data from one 64-bit linear congruential generator, so
/// failures reproduce exactly on every machine without seeding a system generator. The one
/// sample-data source of every test target:
/// - `batch(rows:)`: `features` columns uniform in [0, 1), mapped through `transform` (for the
///   conformance suite, which needs a stage's domain, e.g. positive values only);
/// - `mixedScaleBatch(rows:shift:)`: 4 columns on the scales the reference cases use (≈1e4
///   drifting, ≈1e-3, a constant, spread around 0), for the numeric stage tests.
///
/// `KernelBitsTests` pins hashes of stage outputs over this data: changing the generator
/// changes those pins.
public struct SampleData {
    public let features: Int
    private let transform: (Float) -> Float
    private var state: UInt64

    public init(features: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15, transform: @escaping (Float) -> Float = { $0 }) {
        self.features = features
        self.transform = transform
        self.state = seed
    }

    /// The mixed-scale 4-column data of `mixedScaleBatch(rows:shift:)`.
    public static func mixedScale(seed: UInt64 = 42) -> SampleData {
        SampleData(features: 4, seed: seed)
    }

    private mutating func step() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }

    /// The next value in [0, 1) as a Float (24 random bits).
    public mutating func next() -> Float {
        Float(step() >> 40) / Float(1 << 24)
    }

    /// The next value in [0, 1) as a Double (53 random bits).
    public mutating func unit() -> Double {
        Double(step() >> 11) / Double(1 << 53)
    }

    /// `rows × features` values from `next()`, through `transform`.
    public mutating func batch(rows: Int) -> FeatureBatch {
        var values: [Float] = []
        values.reserveCapacity(rows * features)
        for _ in 0..<(rows * features) { values.append(transform(next())) }
        return FeatureBatch(rows: rows, features: features, values: values)
    }

    /// `rows × 4` values: ~1e4 drifting by `shift`, ~1e-3, constant 2.5, spread around 0.
    public mutating func mixedScaleBatch(rows: Int, shift: Double = 0) -> FeatureBatch {
        var values: [Float] = []
        values.reserveCapacity(rows * 4)
        for _ in 0..<rows {
            values.append(Float(1e4 + shift + 300 * (unit() - 0.5)))
            values.append(Float(1e-3 * (1 + unit())))
            values.append(2.5)
            values.append(Float(4 * (unit() - 0.5) + shift / 1000))
        }
        return FeatureBatch(rows: rows, features: 4, values: values)
    }

    /// `count` mixed-scale train batches of `rows` rows whose mean drifts (by 50 per batch).
    public mutating func mixedScaleBatches(_ count: Int, rows: Int) -> [FeatureBatch] {
        (0..<count).map { mixedScaleBatch(rows: rows, shift: Double($0) * 50) }
    }
}

/// Per-column mean and (biased) standard deviation of a batch, in Float64, for property checks.
public func columnSummary(_ batch: FeatureBatch) -> (mean: [Double], std: [Double]) {
    let moments = ColumnMoments(of: batch)
    return (moments.mean, moments.variance.map { $0.squareRoot() })
}
