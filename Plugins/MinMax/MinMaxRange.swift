/// sklearn's `feature_range`: the interval `[low, high]` the fitted data is mapped onto.
public struct MinMaxRange: Sendable, Equatable {
    public let low: Double
    public let high: Double

    /// `low < high` is the caller's contract (the factory reports it as a config error).
    public init(low: Double, high: Double) {
        precondition(low < high, "feature_range needs low < high")
        self.low = low
        self.high = high
    }

    /// sklearn's default `(0, 1)`.
    public static let unit = MinMaxRange(low: 0, high: 1)
}
