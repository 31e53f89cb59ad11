/// A `ContinuousClock` instant held as its exact offset from one process-wide origin, so that the
/// structs the per-message path writes — the batcher, the engine's `MessageIntake` — have a layout the
/// compiler knows.
///
/// Why not `ContinuousClock.Instant` itself: it is a resilient standard-library type (its size and
/// layout are not known at compile time). A struct that stores one gets a layout computed at run time,
/// so every access to *any* of its later fields goes through a type-metadata accessor for the field
/// offset, and every copy of the instant (an `Optional<Instant>` per message: the newest arrival)
/// through value-witness calls — what `perf` showed as `_swift_getGenericMetadata`, `outlined init
/// with copy of ContinuousClock.Instant?` and "type metadata accessor for MessageIntake" on the hot
/// path. `Duration` is frozen: two Int64 words, copied and compared inline.
///
/// Exact both ways: `instant - origin` and `origin + offset` are attosecond `Duration` arithmetic,
/// so `ClockStamp(t).instant == t` for every `t` (tests compare deadlines for equality).
public struct ClockStamp: Sendable, Comparable, Hashable {
    /// The instant the offsets count from: the first use in this process.
    static let origin = ContinuousClock.now

    /// `instant - origin`.
    var sinceOrigin: Duration

    public init(_ instant: ContinuousClock.Instant) {
        sinceOrigin = instant - Self.origin
    }

    /// The clock's reading now.
    public static var now: ClockStamp { ClockStamp(.now) }

    /// The same instant as a `ContinuousClock.Instant`.
    public var instant: ContinuousClock.Instant { Self.origin + sinceOrigin }

    public static func < (a: ClockStamp, b: ClockStamp) -> Bool { a.sinceOrigin < b.sinceOrigin }
}
