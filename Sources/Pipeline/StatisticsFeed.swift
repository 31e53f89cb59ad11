public import StageKit
import Synchronization

/// The live statistics of a training pipeline, for the evaluation pipelines that follow it
/// (`statistics_from`, issue 9 §5).
///
/// The training thread publishes an immutable snapshot (a copy of every stage's saved state) once
/// per batch that changed its `stats_version` — never per row. A follower reads the latest snapshot
/// once per batch and restores it into its own chain only when the version moved. The only shared
/// state is one reference swapped under a `Mutex`: a publish and a read each hold it for a pointer
/// copy, so neither thread waits on the other's work.
public final class StatisticsFeed: Sendable {
    /// One published set of statistics: what `StageChain.saveState()` returned at `statsVersion`.
    public final class Snapshot: Sendable {
        public let statsVersion: UInt64
        public let states: [StageState]

        public init(statsVersion: UInt64, states: [StageState]) {
            self.statsVersion = statsVersion
            self.states = states
        }
    }

    /// The pipeline whose statistics these are.
    public let source: String
    private let latest: Mutex<Snapshot>

    /// Starts with `chain`'s statistics as they are now (restored from a checkpoint, or fresh).
    public init(source: String, chain: StageChain) {
        self.source = source
        latest = Mutex(Snapshot(statsVersion: chain.statsVersion, states: chain.saveState()))
    }

    /// The newest snapshot.
    public var current: Snapshot { latest.withLock { $0 } }

    /// Publishes `chain`'s statistics unless that version is already the latest (training thread,
    /// between batches). The copy is made before the lock is taken.
    public func publish(from chain: StageChain) {
        let version = chain.statsVersion
        guard latest.withLock({ $0.statsVersion }) != version else { return }
        let snapshot = Snapshot(statsVersion: version, states: chain.saveState())
        latest.withLock { $0 = snapshot }
    }
}

/// Keeps a follower's chain on the newest snapshot of a `StatisticsFeed` (the follower's thread).
public struct StatisticsFollower {
    public let feed: StatisticsFeed
    /// The version restored into the chain now; `nil` until the first batch (and after a reload
    /// replaced the chain).
    var applied: UInt64?
    /// The last version the chain refused (logged once, not per batch).
    var failed: UInt64?

    public init(feed: StatisticsFeed) {
        self.feed = feed
    }

    /// Restores the newest snapshot into `chain` if it is not there yet; the chain's `stats_version`
    /// becomes the source's, so output headers carry it.
    /// - Throws: the stage's refusal (validation checked kinds, columns and fingerprints, so not expected).
    mutating func refresh(_ chain: StageChain) throws(StageError) {
        let snapshot = feed.current
        guard snapshot.statsVersion != applied else { return }
        do {
            try chain.restoreState(snapshot.states, statsVersion: snapshot.statsVersion)
        } catch {
            failed = snapshot.statsVersion
            throw error
        }
        applied = snapshot.statsVersion
    }
}
