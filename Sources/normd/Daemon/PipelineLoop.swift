import AdminServer
import Foundation
import Logging
import NormConfig
import NormCore
import Pipeline
import StageKit
import Synchronization
import ZeroMQ

/// The handle to one pipeline's socket thread: start it, ask it to stop, wait for it.
///
/// A blocking `zmq_poll` inside a Swift task would stall half of the 2-thread concurrency pool, and
/// libzmq sockets must stay on the thread that made them — so each pipeline gets a dedicated
/// thread (`PipelineRunner`) that creates, uses and closes its sockets. The thread learns it should
/// stop through a flag it checks at least every `PipelineRunner.wakeInterval`; `zmq_ctx_shutdown`
/// is not used for that because it would also make the final flush's sends fail.
///
/// Each pipeline has its own ZeroMQ context, made and terminated on its thread: `zmq_ctx_term`
/// returns once that context's sockets have delivered their queues or their linger expired, so
/// timing it tells whether *this* pipeline's output drained — one shared context could not say which.
final class PipelineLoop: Sendable {
    /// The configuration the loop started with (its name and endpoints never change during its life:
    /// a reload that changes endpoints replaces the whole loop, see `ReloadCoordinator`).
    let configuration: PipelineConfiguration
    /// The configuration it runs now: `configuration` until a reload changed stages, batching or mode.
    var liveConfiguration: PipelineConfiguration { live.withLock { $0 } }
    private let live: Mutex<PipelineConfiguration>
    /// The pipeline's counts, readable from any thread (a replaced loop's, carried on).
    let board: CounterBoard
    /// What the admin server reads and asks of this pipeline's thread.
    let control: PipelineControl
    private let logger: Logger
    private let stopFlag = StopFlag()
    private let lifecycle = Mutex(Lifecycle())
    /// The chain is handed to the thread exactly once.
    private let parkedChain: Mutex<ChainBox?>
    /// Where the pipeline's statistics snapshots go; `nil` without `checkpoint:`.
    private let checkpoints: CheckpointHook?
    /// `security: curve:`, shared by every pipeline; `nil` without it.
    private let curve: CurveGate?
    /// Its part in `statistics_from`: publishes its statistics, follows another's, or neither (`nil`).
    let statistics: StatisticsLink?

    private struct Lifecycle {
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// A reload's new chain, waiting for the thread's next batch boundary (one at a time:
        /// `ReloadCoordinator` serializes reloads).
        var reload: ReloadOrder?
        /// What the thread left when it ended: its chain, counts, batch number and mode.
        var handOver: HandOver?
        /// Stopped by a reload (re-bound or removed), not by a shutdown.
        var retired = false
    }

    /// What a loop that a reload replaces passes to its successor: counts and batch numbers continue,
    /// the mode switched through the admin endpoint stays, and the kept statistics come from `chain`.
    struct HandOver: @unchecked Sendable {
        /// Owned by nobody once the thread ended.
        let chain: StageChain
        let counts: PipelineCounts
        let nextBatch: UInt64
        let mode: Mode
        /// Per-producer `seq` positions: tracking continues across the re-bind.
        let sequences: SequenceTracker
    }

    /// How a successor starts where `previous` stopped: the same counters (board and, with the same
    /// number of inputs, the same meters), counts, the next batch number and `mode`.
    struct Resume: Sendable {
        let previous: PipelineLoop
        let counts: PipelineCounts
        let nextBatch: UInt64
        let mode: Mode
        let sequences: SequenceTracker
    }
    private let resuming: Resume?

    init(
        configuration: PipelineConfiguration, chain: StageChain, logger: Logger, checkpoints: CheckpointHook? = nil,
        metrics: NormdMetrics.PipelineMetrics? = nil, curve: CurveGate? = nil, statistics: StatisticsLink? = nil,
        resuming: Resume? = nil
    ) {
        self.configuration = configuration
        self.statistics = statistics
        self.resuming = resuming
        self.live = Mutex(configuration)
        self.board = resuming?.previous.board ?? CounterBoard()
        if let previous = resuming?.previous.control, previous.inputs.count == configuration.inputs.count {
            self.control = previous
        } else {
            self.control = PipelineControl(
                inputs: configuration.inputs.count, mode: configuration.mode, statsVersion: chain.statsVersion,
                histograms: metrics)
            if let previous = resuming?.previous.control { control.carry(from: previous) }
        }
        self.checkpoints = checkpoints
        self.curve = curve
        var logger = logger
        logger[metadataKey: "pipeline"] = "\(configuration.name)"
        self.logger = logger
        self.parkedChain = Mutex(ChainBox(chain))
    }

    /// Starts the thread and returns once every socket is bound or connected.
    /// - Throws: `DaemonError.socketSetup` naming the endpoint; the thread has then ended.
    func start() async throws {
        guard
            let chain = parkedChain.withLock({ box -> ChainBox? in
                defer { box = nil }; return box
            })
        else {
            throw DaemonError.internalState("pipeline \(configuration.name) started twice")
        }
        let configuration = self.configuration, logger = self.logger
        let board = self.board, stopFlag = self.stopFlag, checkpoints = self.checkpoints, control = self.control, curve = self.curve
        let statistics = self.statistics, resuming = self.resuming
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let thread = Thread { [self] in
                nameCurrentThread("normd-\(configuration.name)")
                defer { self.markFinished() }
                let runner: PipelineRunner
                let context: ZMQContext
                do {
                    context = try ZMQContext(ioThreads: configuration.ioThreads)
                } catch {
                    ready.resume(throwing: DaemonError.socketSetup(pipeline: configuration.name, "cannot create a ZeroMQ context: \(error)"))
                    return
                }
                do {
                    runner = try PipelineRunner(
                        configuration: configuration, chain: chain.chain, context: context,
                        board: board, stopFlag: stopFlag, logger: logger, checkpoints: checkpoints,
                        reloads: { [self] in self.takeReloadOrder() }, control: control, curve: curve,
                        statistics: statistics, resuming: resuming)
                } catch {
                    context.terminate() // every socket was closed by the failed set-up
                    ready.resume(throwing: error)
                    return
                }
                ready.resume()
                runner.run()
                let handOver = runner.handOver
                self.lifecycle.withLock { $0.handOver = handOver }
            }
            thread.name = "normd-\(configuration.name)"
            thread.start()
        }
    }

    /// Asks the thread to stop intake, flush the partial batch, send it and close; returns at once.
    func requestStop() {
        stopFlag.set()
    }

    /// Stops like `requestStop()`, but the output gets no more time: batches still waiting for it
    /// are counted as dropped and the socket closes with linger 0 (a second SIGTERM/SIGINT).
    func abandonOutput() {
        stopFlag.abandonOutput()
    }

    /// Asks the thread for a checkpoint snapshot now and waits (up to `timeout`) until it has offered
    /// one. `false` when the thread did not get to it in time — e.g. it waits on a full PUSH output —
    /// or the pipeline takes no part in checkpoints.
    func offerSnapshotNow(timeout: Duration) async -> Bool {
        guard let requests = checkpoints?.requests else { return false }
        let wanted = requests.request()
        let deadline = ContinuousClock.now + timeout
        while requests.served < wanted {
            guard ContinuousClock.now < deadline, !lifecycle.withLock({ $0.finished }) else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Hands a reload's chain to the pipeline's thread and returns once the thread has taken it over
    /// at a batch boundary (between two `zmq_poll` wake-ups, so within `PipelineRunner.wakeInterval`
    /// unless the thread waits on a full output). Returns the problem when the thread could not
    /// carry a kept stage's statistics over (it then runs on with its old chain), or `nil`; a thread
    /// that has already ended takes nothing and returns `nil` (it is stopping anyway).
    func reload(to configuration: PipelineConfiguration, chain box: ChainBox, keeping kept: [Int]) async -> String? {
        let problem = await withCheckedContinuation { (done: CheckedContinuation<String?, Never>) in
            let order = ReloadOrder(configuration: configuration, chain: box.chain, kept: kept, done: done)
            let taken = lifecycle.withLock { state -> Bool in
                guard !state.finished else { return false }
                state.reload = order
                return true
            }
            if !taken { done.resume(returning: nil) }
        }
        if problem == nil { live.withLock { $0 = configuration } }
        return problem
    }

    /// The waiting reload, if any, taken by the pipeline's thread (which must then resume its `done`).
    private func takeReloadOrder() -> ReloadOrder? {
        lifecycle.withLock { state -> ReloadOrder? in
            defer { state.reload = nil }
            return state.reload
        }
    }

    /// Stops the loop because a reload re-binds or removes its pipeline (`PipelineService` then does
    /// not take its end for the daemon's).
    func retire() {
        lifecycle.withLock { $0.retired = true }
        stopFlag.set()
    }

    var isRetired: Bool { lifecycle.withLock { $0.retired } }

    /// What the ended thread left; `nil` while it runs (or if it never started).
    var handOver: HandOver? { lifecycle.withLock { $0.handOver } }

    /// Whether the thread has ended (stopped, or failed).
    var isFinished: Bool { lifecycle.withLock { $0.finished } }

    /// Whether a stop was asked for (the thread may still be flushing).
    var isStopping: Bool { stopFlag.isSet }

    /// Returns when the thread has flushed, closed its sockets and ended.
    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = lifecycle.withLock { state -> Bool in
                if state.finished { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func markFinished() {
        let (waiters, reload) = lifecycle.withLock { state -> ([CheckedContinuation<Void, Never>], ReloadOrder?) in
            state.finished = true
            defer { state.waiters = []; state.reload = nil }
            return (state.waiters, state.reload)
        }
        waiters.forEach { $0.resume() }
        reload?.done.resume(returning: nil)
    }
}

/// A flag one thread sets and another polls, with the moment it was first set (the shutdown
/// budget of the output, `shutdown_timeout`, counts from there) and whether the output wait is skipped.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    private let abandoned = Atomic<Bool>(false)
    private let setAt = Mutex<ContinuousClock.Instant?>(nil)

    func set() {
        setAt.withLock { if $0 == nil { $0 = .now } }
        value.store(true, ordering: .releasing)
    }

    var isSet: Bool { value.load(ordering: .acquiring) }

    /// When `set()` was first called; `nil` while running.
    var stoppedAt: ContinuousClock.Instant? { setAt.withLock { $0 } }

    /// Stops, and tells the output to wait no longer.
    func abandonOutput() {
        abandoned.store(true, ordering: .releasing)
        set()
    }

    var outputAbandoned: Bool { abandoned.load(ordering: .acquiring) }
}

/// Moves the non-Sendable chain (live statistics) to the pipeline's thread, which then owns it alone.
struct ChainBox: @unchecked Sendable {
    let chain: StageChain
    init(_ chain: StageChain) { self.chain = chain }
}

/// A reload's new chain for one pipeline: built (fresh statistics) off the pipeline's thread, taken
/// over on it. `kept` lists the positions whose statistics the thread copies from the old chain.
struct ReloadOrder: @unchecked Sendable {
    let configuration: PipelineConfiguration
    /// Not yet used by anyone: the pipeline's thread owns it from the hand-over on.
    let chain: StageChain
    let kept: [Int]
    let done: CheckedContinuation<String?, Never>
}
