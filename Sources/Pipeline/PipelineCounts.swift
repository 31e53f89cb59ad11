import Synchronization

/// Everything a pipeline counts: what came in, what was refused and why, what went out.
public struct PipelineCounts: Sendable, Equatable {
    public var messagesAccepted = 0
    public var rowsAccepted = 0
    /// Refused messages by reason (`wrong_width`, `non_finite`, `malformed_header`, …).
    public var messagesRejected: [String: Int] = [:]
    /// Rows dropped from otherwise accepted messages, by reason: `non_finite` (the `drop_rows`
    /// policy), `stage_failed` (a batch a stage failed on in train mode and again in infer mode).
    public var rowsDropped: [String: Int] = [:]
    /// Producer sequence numbers that skipped ahead (each is one gap)…
    public var sequenceGaps = 0
    /// …and how many messages those gaps add up to (what PUB/SUB lost); saturates at `Int.max`,
    /// since a peer chooses its `seq` freely.
    public var messagesMissed = 0
    /// A producer's sequence went backwards (it restarted); counting starts over.
    public var sequenceRestarts = 0
    /// Connections an input refused because it had `max_connections` (or its admission policy said no).
    public var connectionsRefused = 0
    /// Connections the transport closed while the peer was still there (a frame above
    /// `maxmsgsize`, or missed heartbeats): whatever that peer had queued is lost.
    public var connectionsDropped = 0
    /// CURVE peers refused, by reason: `unknown_key`, `address_denied` (at the handshake, by the
    /// ZAP handler) and `revoked_key` (a message from a key removed since its connection was admitted).
    public var authFailures: [String: Int] = [:]
    /// Producers dropped from `seq` tracking to stay within `max_producers` (least recently seen first).
    public var producersEvicted = 0
    public var batchesPublished = 0
    public var rowsPublished = 0
    /// Batches flushed before they were full (by `max_latency` or at shutdown).
    public var partialBatches = 0
    /// Train batches that ran in infer mode (too few rows, or not a ghost-batch multiple).
    public var batchesDowngraded = 0
    /// Batches the output could not take (an XPUB with no-drop at its high-water mark, or a send
    /// that failed); their rows are lost and logged.
    public var batchesDropped = 0
    /// Batches a stage failed on (an error, a non-finite output or non-finite statistics); logged
    /// with the stage's error. The chain left every statistic as before the batch. A train batch is
    /// then re-run in infer mode and published with `downgraded: "stage failed: …"` (also counted in
    /// `batchesDowngraded`); if that fails too its rows count in `rowsDropped["stage_failed"]`.
    public var batchesFailed = 0

    // MARK: shutdown — what became of the published batches (set once, when the pipeline stops)

    /// Whether the output's queue provably drained when the pipeline stopped.
    public enum OutputAtShutdown: Sendable, Equatable {
        /// Every published batch left libzmq's queue for the kernel within the shutdown budget.
        case drained
        /// The budget ran out first: up to this many published batches may have been discarded.
        case unconfirmed(Int)
    }

    /// `nil` while the pipeline runs.
    public var outputAtShutdown: OutputAtShutdown?

    public init() {}

    /// One log line's worth: `accepted=… rejected={wrong_width: 2} …`.
    public var summary: String {
        fields.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + shutdownSummary
    }

    /// One count of the counts line: a number, or a table by reason.
    public enum Field: Sendable, Equatable, CustomStringConvertible {
        case number(Int)
        case byReason([String: Int])

        /// As the counts line writes it: `3`, `0` for an empty table, `{non_finite: 2, wrong_width: 1}`.
        public var description: String {
            switch self {
            case .number(let value): "\(value)"
            case .byReason(let table) where table.isEmpty: "0"
            case .byReason(let table): "{" + table.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
            }
        }
    }

    /// The counts line's keys and values, in its order (also `GET /pipelines`' `counts`).
    public var fields: [(key: String, value: Field)] {
        [
            ("messages_accepted", .number(messagesAccepted)), ("rows_accepted", .number(rowsAccepted)),
            ("messages_rejected", .byReason(messagesRejected)), ("rows_dropped", .byReason(rowsDropped)),
            ("seq_gaps", .number(sequenceGaps)), ("messages_missed", .number(messagesMissed)), ("seq_restarts", .number(sequenceRestarts)),
            ("producers_evicted", .number(producersEvicted)), ("connections_refused", .number(connectionsRefused)),
            ("connections_dropped", .number(connectionsDropped)), ("auth_failures", .byReason(authFailures)),
            ("batches", .number(batchesPublished)), ("rows_published", .number(rowsPublished)), ("partial_batches", .number(partialBatches)),
            ("downgraded", .number(batchesDowngraded)), ("batches_dropped", .number(batchesDropped)), ("batches_failed", .number(batchesFailed)),
        ]
    }

    /// ` unsent_at_shutdown=0`, or ` unsent_at_shutdown=unknown handed_over_unconfirmed=N`; empty while running.
    private var shutdownSummary: String {
        switch outputAtShutdown {
        case nil: ""
        case .drained: " unsent_at_shutdown=0"
        case .unconfirmed(let count): " unsent_at_shutdown=unknown handed_over_unconfirmed=\(count)"
        }
    }
}

extension Int {
    /// `self + other`, clamped to `Int.min...Int.max` instead of trapping.
    public func saturatingAdd(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

/// The latest counts of a pipeline, readable from any thread.
///
/// The pipeline's own thread counts in a plain struct and publishes a snapshot here after each
/// batch and on each idle wake-up, so the hot path takes no lock per message.
///
/// Connection events are counted by another thread (the transport's connection guard) straight
/// into the board, and merged into every snapshot.
public final class CounterBoard: Sendable {
    private let latest = Mutex(PipelineCounts())
    private let connectionsRefused = Atomic<Int>(0)
    private let connectionsDropped = Atomic<Int>(0)
    private let authFailures = Mutex<[String: Int]>([:])

    public init() {}

    public func publish(_ counts: PipelineCounts) {
        latest.withLock { $0 = counts }
    }

    public func recordConnectionRefused() {
        connectionsRefused.add(1, ordering: .relaxed)
    }

    public func recordConnectionDropped() {
        connectionsDropped.add(1, ordering: .relaxed)
    }

    /// A CURVE peer refused for `reason` (rare: a lock is fine, and the reasons are few and fixed).
    public func recordAuthFailure(_ reason: String) {
        authFailures.withLock { $0[reason, default: 0] = $0[reason, default: 0].saturatingAdd(1) }
    }

    public var snapshot: PipelineCounts {
        var counts = latest.withLock { $0 }
        counts.authFailures = authFailures.withLock { $0 }
        counts.connectionsRefused = connectionsRefused.load(ordering: .relaxed)
        counts.connectionsDropped = connectionsDropped.load(ordering: .relaxed)
        return counts
    }
}
