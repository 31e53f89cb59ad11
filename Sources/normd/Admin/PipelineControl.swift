import AdminServer
import Checkpoint
import Foundation
import NormCore
import Prometheus
import Synchronization

/// What one pipeline's thread shares with the admin server, without ever waiting for it:
/// - meters it writes (plain relaxed atomics, one writer, so an update is a load and a store —
///   no lock, no allocation) and scrapes read;
/// - mailboxes for the two requests only that thread can serve (a mode switch, a copy of its
///   statistics), checked between batches with one atomic load.
final class PipelineControl: Sendable {
    /// Every `reason` a message can be rejected for, in the order of `InputMeters.rejected`: the
    /// decoder's (`WireError.reason`), the engine's (`PipelineEngine.Rejection.reason`) and the
    /// runner's `oversize`. Registered at 0 from the start (Docs/METRICS.md).
    static let rejectionReasons = [
        "frame_count", "malformed_header", "dtype", "shape", "wrong_width", "payload_size", "npy", "json",
        "producer_too_long", "oversize", "non_finite",
    ]

    let inputs: [InputMeters]
    /// The mode batches run in now (`Mode.rawValue` index: 0 train, 1 infer).
    private let modeIndex: Atomic<Int>
    let statsVersion: Meter
    let pendingRows = Meter()
    /// Batches published by the mode they ran in.
    let publishedTrain = Meter(), publishedInfer = Meter()
    /// Wall-clock time of the last published batch, nanoseconds since 1970; 0 before the first.
    let lastBatchNanos = Meter()
    /// Time `publish` waited for a PUSH peer that applied back-pressure, in nanoseconds.
    let outputBlockedNanos = Meter()
    /// The registry's series of this pipeline (its histograms recorded once per batch by the sink, the
    /// rest set by a scrape from the meters); `nil` without `admin:`.
    let histograms: NormdMetrics.PipelineMetrics?
    /// When the thread last came round its loop (or its wait on a blocked output, or a sync member's
    /// bounded wait for its group), monotonic nanoseconds: `/healthz` reports a thread that stopped
    /// turning (a stage that never returns).
    let lastTurnNanos = Meter(PipelineControl.monotonicNanos())
    let modeRequests = Mailbox<Mode, UInt64>()
    let statisticsRequests = Mailbox<Void, PipelineStateRecord>()

    init(inputs: Int, mode: Mode, statsVersion: UInt64, histograms: NormdMetrics.PipelineMetrics?) {
        self.inputs = (0..<inputs).map { _ in InputMeters(reasons: Self.rejectionReasons.count) }
        self.modeIndex = Atomic(mode == .train ? 0 : 1)
        self.statsVersion = Meter(Int(truncatingIfNeeded: statsVersion))
        self.histograms = histograms
    }

    /// Longest a live pipeline thread may go without a turn before `/healthz` calls it stuck: the
    /// loop turns at least every 100 ms (its poll timeout, and the blocked output's), so only a stage
    /// call that does not return — far above the slowest legitimate batch — exceeds it.
    static let stuckAfterNanos = 10_000_000_000

    /// One relaxed store per loop turn.
    func turned() { lastTurnNanos.set(Self.monotonicNanos()) }

    static func monotonicNanos() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1_000_000_000 + now.tv_nsec
    }

    var mode: Mode {
        get { modeIndex.load(ordering: .relaxed) == 0 ? .train : .infer }
        set { modeIndex.store(newValue == .train ? 0 : 1, ordering: .relaxed) }
    }

    func rejected(input: Int, reason: String) {
        // Off the hot path: only refused messages look the reason up.
        let index = Self.rejectionReasons.firstIndex(of: reason) ?? Self.rejectionReasons.firstIndex(of: "malformed_header")!
        inputs[input].rejected[index].add(1)
    }

    /// A batch left through the output: per-mode count, time, histograms (the sink's thread).
    func published(mode: Mode, statsVersion: UInt64, process: Duration, latency: Duration) {
        (mode == .train ? publishedTrain : publishedInfer).add(1)
        self.statsVersion.set(Int(truncatingIfNeeded: statsVersion))
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        lastBatchNanos.set(now.tv_sec * 1_000_000_000 + now.tv_nsec)
        histograms?.batchProcessSeconds.record(process)
        histograms?.batchLatencySeconds.record(latency)
    }
}

/// Counters of one input.
final class InputMeters: Sendable {
    let messages = Meter(), rows = Meter(), bytes = Meter()
    /// By `PipelineControl.rejectionReasons` index.
    let rejected: [Meter]

    init(reasons: Int) {
        rejected = (0..<reasons).map { _ in Meter() }
    }

    /// Counts a message read from this input (every message, accepted or not).
    func received(bytes: Int) {
        messages.add(1)
        self.bytes.add(bytes)
    }
}

/// A count one thread writes and any thread reads. Single writer: `add` is a relaxed load and
/// store (no read-modify-write instruction, no lock).
final class Meter: Sendable {
    private let value: Atomic<Int>
    init(_ initial: Int = 0) { value = Atomic(initial) }
    func add(_ amount: Int) { value.store(value.load(ordering: .relaxed) &+ amount, ordering: .relaxed) }
    func set(_ newValue: Int) { value.store(newValue, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

/// Requests that only a pipeline's thread can answer, asked from HTTP tasks.
///
/// The pipeline's thread calls `serve` between batches: one relaxed atomic load when nothing waits.
/// An asker polls for its answer (every 5 ms) until `timeout`, then withdraws a request not yet
/// taken — so a pipeline blocked on its output never leaves a request applied after its asker gave up.
final class Mailbox<Request: Sendable, Answer: Sendable>: Sendable {
    private struct State {
        var nextTicket = 1
        var pending: [(ticket: Int, request: Request)] = []
        var answers: [Int: Answer] = [:]
    }
    private let state = Mutex(State())
    private let waiting = Atomic<Bool>(false)

    /// Answers every waiting request (on the pipeline's thread).
    func serve(_ answer: (Request) -> Answer) {
        guard waiting.load(ordering: .acquiring) else { return }
        let taken = state.withLock { state -> [(ticket: Int, request: Request)] in
            defer { state.pending = [] }
            waiting.store(false, ordering: .releasing)
            return state.pending
        }
        let answered = taken.map { ($0.ticket, answer($0.request)) }
        state.withLock { state in for (ticket, value) in answered { state.answers[ticket] = value } }
    }

    /// Asks and waits for the answer; `nil` when the thread did not take the request within `timeout`
    /// (it was withdrawn, nothing was done) or `isAlive` turned false.
    func ask(_ request: Request, timeout: Duration, isAlive: @Sendable () -> Bool) async -> Answer? {
        let ticket = state.withLock { state -> Int in
            defer { state.nextTicket += 1 }
            state.pending.append((state.nextTicket, request))
            waiting.store(true, ordering: .releasing)
            return state.nextTicket
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let outcome = state.withLock { state -> (answer: Answer?, taken: Bool) in
                if let answer = state.answers.removeValue(forKey: ticket) { return (answer, true) }
                return (nil, !state.pending.contains { $0.ticket == ticket })
            }
            if let answer = outcome.answer { return answer }
            // Taken but not yet answered: the thread is serving it right now; keep waiting.
            if !outcome.taken && (ContinuousClock.now >= deadline || !isAlive()) {
                let withdrawn = state.withLock { state -> Bool in
                    guard let index = state.pending.firstIndex(where: { $0.ticket == ticket }) else { return false }
                    state.pending.remove(at: index)
                    if state.pending.isEmpty { waiting.store(false, ordering: .releasing) }
                    return true
                }
                if withdrawn { return nil }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
