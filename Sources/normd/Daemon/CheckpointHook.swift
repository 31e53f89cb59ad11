import Pipeline
import Synchronization

/// What a pipeline's thread needs to take part in checkpoints: where snapshots go, when, and the
/// requests for one now (SIGUSR1).
struct CheckpointHook: Sendable {
    let sink: any StateSnapshotSink
    let cadence: CheckpointCadence
    /// One per pipeline: the signal handler asks, the pipeline's thread serves between two batches
    /// (only that thread may read its statistics).
    let requests = SnapshotRequests()
}

/// Requests for an immediate snapshot, numbered so the asker can tell when its own was served.
final class SnapshotRequests: Sendable {
    private let asked = Atomic<Int>(0)
    private let done = Atomic<Int>(0)

    /// Asks for a snapshot; returns the number `served` reaches once it is offered.
    func request() -> Int { asked.add(1, ordering: .acquiringAndReleasing).newValue }

    /// The number of the newest request still waiting, if any (read by the pipeline's thread).
    var pending: Int? {
        let wanted = asked.load(ordering: .acquiring)
        return wanted > done.load(ordering: .acquiring) ? wanted : nil
    }

    /// The pipeline's thread offered a snapshot covering every request up to `number`.
    func markServed(_ number: Int) { done.store(number, ordering: .releasing) }

    var served: Int { done.load(ordering: .acquiring) }
}
