public import StageKit

/// Durations as people write them in YAML: `500us`, `50ms`, `2s`, `1.5s`, `1m`, `1h`, or a bare
/// number of seconds (`0.05`).
///
/// Parsing goes through `Double` seconds and never traps: `Duration` holds at most ~9.2e9 s in
/// Int64 nanoseconds, so `1e300` or `"99999999999999999h"` must be refused by a bound
/// (`DurationBound`) before they are converted, not converted and then checked.
public enum DurationText {
    /// Unit suffixes, longest first so `ms` is not read as `m` + `s`.
    private static let units: [(suffix: String, seconds: Double)] = [
        ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600),
    ]

    /// The finite number of seconds `node` spells (any magnitude), or `nil` if it is not a duration.
    /// Negative values parse (the caller reports them as out of range, quoting them).
    public static func seconds(_ node: ConfigNode) -> Double? {
        switch node.value {
        case .int(let seconds): return Double(seconds)
        case .double(let seconds) where seconds.isFinite: return seconds
        case .string(let text): return seconds(text)
        default: return nil
        }
    }

    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.filter { $0 != " " }
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            guard let amount = Double(trimmed.dropLast(unit.suffix.count)) else { return nil }
            let seconds = amount * unit.seconds
            return seconds.isFinite ? seconds : nil
        }
        guard let seconds = Double(trimmed), seconds.isFinite else { return nil }
        return seconds
    }

    /// The duration `text` spells, or `nil` if it is not one or does not fit a `Duration` in
    /// nanoseconds (|seconds| ≥ 9e9).
    public static func parse(_ text: String) -> Duration? {
        guard let seconds = seconds(text), abs(seconds) < representableSeconds else { return nil }
        return duration(seconds: seconds)
    }

    /// Largest magnitude converted: below Int64.max nanoseconds (9.22e9 s) with room for rounding.
    static let representableSeconds = 9e9

    /// `seconds` as a `Duration`, rounded to the nanosecond.
    /// - Precondition: `abs(seconds) < representableSeconds` (callers check a smaller bound first).
    static func duration(seconds: Double) -> Duration {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// A duration as the limits are stated: `3600 seconds = 1h`.
    static func text(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        let unit = seconds % 3600 == 0 ? "\(seconds / 3600)h" : seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s"
        return "\(seconds) seconds = \(unit)"
    }
}

/// The range a duration key accepts: above `zero` (or from it, when 0 means "disabled") and at
/// most `maximum`, with the wording of its messages.
struct DurationBound {
    /// Whether 0 is accepted (e.g. `every_seconds: 0` disables the trigger).
    var allowsZero: Bool
    /// The rule a value below the floor breaks, e.g. `must be > 0`.
    var floorRule: String
    var maximum: Duration
    /// How to write one, e.g. `a duration like "50ms", "2s", "500us" or a number of seconds`.
    var example: String
}

extension ParameterReader {
    /// Reads the duration at `key` within `bound`.
    /// - Returns: `nil` when the key is absent or null (the caller keeps its default) or when a
    ///   problem was reported; else the duration (possibly `.zero` if `bound.allowsZero`).
    func duration(_ key: String, _ bound: DurationBound) -> Duration? {
        guard let node = value(key), !node.isNull else { return nil }
        guard let seconds = DurationText.seconds(node) else {
            error(key, "expected \(bound.example), got \(node.value.typeName) \(node.quoted)")
            return nil
        }
        guard bound.allowsZero ? seconds >= 0 : seconds > 0 else {
            error(key, "\(bound.floorRule), got \(node.quoted)")
            return nil
        }
        let maximum = Double(bound.maximum.components.seconds)
        guard seconds <= maximum else {
            error(key, "must be at most \(DurationText.text(bound.maximum)) (\(ConfigLimits.reference)), got \(node.quoted)")
            return nil
        }
        // A positive value below half a nanosecond must not round to 0 (which disables a trigger).
        return seconds > 0 ? max(DurationText.duration(seconds: seconds), .nanoseconds(1)) : .zero
    }
}
