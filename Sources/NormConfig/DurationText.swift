public import StageKit

/// Durations as people write them in YAML: `500us`, `50ms`, `2s`, `1.5s`, `1m`, or a bare number
/// of seconds (`0.05`).
public enum DurationText {
    /// Unit suffixes, longest first so `ms` is not read as `m` + `s`.
    private static let units: [(suffix: String, seconds: Double)] = [
        ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600),
    ]

    /// The duration `node` spells, or `nil` if it is not one. Negative values parse (the caller
    /// reports them as out of range, quoting them).
    public static func parse(_ node: ConfigNode) -> Duration? {
        switch node.value {
        case .int(let seconds): return .seconds(seconds)
        case .double(let seconds) where seconds.isFinite: return duration(seconds: seconds)
        case .string(let text): return parse(text)
        default: return nil
        }
    }

    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.filter { $0 != " " }
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            guard let amount = Double(trimmed.dropLast(unit.suffix.count)), amount.isFinite else { return nil }
            return duration(seconds: amount * unit.seconds)
        }
        guard let seconds = Double(trimmed), seconds.isFinite else { return nil }
        return duration(seconds: seconds)
    }

    private static func duration(seconds: Double) -> Duration {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}
