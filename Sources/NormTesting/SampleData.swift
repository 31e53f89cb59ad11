public import NormCore

/// Deterministic pseudo-random batches (a 64-bit LCG), so conformance failures reproduce exactly
/// on every machine without seeding a system generator.
public struct SampleData {
    public let features: Int
    private let transform: (Float) -> Float
    private var state: UInt64

    public init(features: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15, transform: @escaping (Float) -> Float = { $0 }) {
        self.features = features
        self.transform = transform
        self.state = seed
    }

    /// The next value in [0, 1).
    public mutating func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(state >> 40) / Float(1 << 24)
    }

    public mutating func batch(rows: Int) -> FeatureBatch {
        var values: [Float] = []
        values.reserveCapacity(rows * features)
        for _ in 0..<(rows * features) { values.append(transform(next())) }
        return FeatureBatch(rows: rows, features: features, values: values)
    }
}
