public import Prometheus

/// A sync group member's metrics (Docs/SYNC.md, Docs/METRICS.md), one set per pipeline with `sync:`.
///
/// Unlike the pipeline counts, these are incremented by the pipeline's thread where the event
/// happens (the sync member): the events are at most a few per step, and a swift-prometheus counter
/// increment is one atomic add. Every label value (each member `rank`, each refusal `reason`) is
/// registered at 0 at start, so `rate()` sees the first event and a scrape always shows the same series.
public struct SyncMetrics: Sendable {
    /// Steps this member took part in and learned from (its train batches stamped `sync: {step, …}`).
    public let stepsCompleted: Counter
    /// By the absent member's `rank`: ranks a step this member led completed without.
    public let absences: [Int: Counter]
    /// Contributions for a step already merged, or with another state hash, answered `stale`.
    public let staleDropped: Counter
    /// By `reason` (``refusalReasons``).
    public let refusals: [String: Counter]
    /// Times this member's leader did not answer within `timeout + margin` and it moved to the next rank.
    public let failovers: Counter
    /// Snapshots adopted (a restarted or stale member rejoined).
    public let rejoins: Counter
    /// Time a step spent in the exchanges (every stage's contribution → merged result), this member's view.
    public let stepSeconds: DurationHistogram

    /// Why a member refused a message, or was refused:
    /// - `other_group`, `other_chain`: a contribution or join request from another group or chain fingerprint;
    /// - `malformed`: a contribution of the wrong shape or with unusable moments, or a leader's result
    ///   that is malformed or contradicts this member's own rows or stage 0 of the step (Docs/SYNC.md,
    ///   "A leader's result is checked": the member trains from nothing of that step);
    /// - `undecodable`: a frame that is not a sync message;
    /// - `refused_by_peer`: another member refused this one.
    ///
    /// A member CURVE refuses (with `security:`) never gets a message through: it is refused at the
    /// handshake by the daemon's ZAP handler and counted in `normd_auth_failures_total{reason}`.
    public static let refusalReasons = ["other_group", "other_chain", "malformed", "undecodable", "refused_by_peer"]

    /// Buckets of `normd_sync_step_seconds`: 10 µs … 100 s (a loopback step takes ~1 ms, one with an
    /// absent member `timeout`, at most 10 min).
    public static let stepBuckets: [Duration] = NormdMetrics.decades(from: -5, to: 2)

    init(registry: PrometheusCollectorRegistry, pipeline: String, members: Int) {
        let p = [("pipeline", pipeline)]
        stepsCompleted = registry.makeCounter(
            name: "normd_sync_steps_total", labels: p, help: "Sync group steps this member took part in and trained from.")
        absences = Dictionary(
            uniqueKeysWithValues: (0..<members).map { rank in
                (
                    rank,
                    registry.makeCounter(
                        name: "normd_sync_absences_total", labels: p + [("rank", "\(rank)")],
                        help: "Members a step this member led completed without, by rank.")
                )
            })
        staleDropped = registry.makeCounter(
            name: "normd_sync_stale_dropped_total", labels: p,
            help: "Contributions for a step already merged (or another state hash), answered stale.")
        refusals = Dictionary(
            uniqueKeysWithValues: Self.refusalReasons.map { reason in
                (
                    reason,
                    registry.makeCounter(
                        name: "normd_sync_refusals_total", labels: p + [("reason", reason)],
                        help: "Sync messages or members refused, and refusals this member received, by reason.")
                )
            })
        failovers = registry.makeCounter(
            name: "normd_sync_failovers_total", labels: p, help: "Times the step leader did not answer and this member moved to the next rank.")
        rejoins = registry.makeCounter(name: "normd_sync_rejoins_total", labels: p, help: "Group snapshots this member adopted (rejoins).")
        stepSeconds = registry.makeDurationHistogram(
            name: "normd_sync_step_seconds", labels: p, buckets: Self.stepBuckets,
            help: "Time a sync step spent exchanging moments, all stages, as this member saw it.")
    }
}
