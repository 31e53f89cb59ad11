import Foundation
public import Logging
public import NormCore
public import Pipeline
import StageKit
import Synchronization

/// Makes pipelines' statistics durable: keeps the latest snapshot of every pipeline and, on its own
/// thread, writes them together as the next checkpoint generation, then prunes old generations.
///
/// Pipelines call `offer` on their threads; it only swaps the snapshot in under a lock and wakes the
/// writer, so a slow disk never stalls a data path (snapshots arriving during a write coalesce into
/// the next one). The writer is a dedicated `Thread`, not a task: `fsync` blocks, and the Swift
/// concurrency pool has only 2 threads here.
///
/// Failures are counted, and logged once per change of state (failing, then recovered) rather
/// than once per snapshot; `finish()` reports whether the final generation was written, so the
/// daemon can exit 73 when it was not.
public final class CheckpointWriter: StateSnapshotSink, Sendable {
    /// What `finish()` did about the final generation.
    public enum FinalCheckpoint: Sendable, Equatable {
        /// The final statistics are in this generation, written by this run after the last change
        /// (at `finish()`, or just before from the pipelines' final snapshots) and still on disk.
        case written(CheckpointDirectory.Generation)
        /// Nothing changed since the restored generation, which is still on disk: nothing was
        /// written this run, nothing is lost.
        case unchanged
        /// The write failed: statistics since the last written generation are lost.
        case failed(String)
    }

    private struct State {
        /// Where generations go; `move(to:nextGeneration:)` changes it (a reload's `checkpoint.path`).
        var directory: CheckpointDirectory
        var document: StateDocument
        /// Statistics changed since the last generation was written.
        var dirty = false
        var nextGeneration: UInt64
        var stopping = false
        var finishWaiter: CheckedContinuation<Void, Never>?
        var started = false
        /// The newest generation this writer wrote.
        var lastWritten: CheckpointDirectory.Generation?
        var threadEnded = false
        /// Writes that failed this run, and whether the latest one did.
        var failures = 0
        var failing = false
        /// Why a write was asked for out of cadence (`SIGUSR1`): logged with the generation.
        var requestedBy: String?
        var final: FinalCheckpoint?
        /// Writes that succeeded this run, and the wall-clock time of the last one.
        var successes = 0
        var lastSuccess: Double?
        /// Callers of `writeNow(requestedBy:) async` waiting for the generation that covers them.
        var waiters: [CheckedContinuation<WriteOutcome, Never>] = []
    }

    /// What one requested write came to.
    public enum WriteOutcome: Sendable, Equatable {
        case written(CheckpointDirectory.Generation)
        case failed(String)
    }

    public var directory: CheckpointDirectory { state.withLock { $0.directory } }
    public let keep: Int
    private let logger: Logger
    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - document: every pipeline's statistics as the run starts (restored or fresh); each pipeline
    ///     that will offer snapshots must be in it, since a snapshot carries only the stages' states.
    ///   - nextGeneration: one past the highest generation number in the directory.
    ///   - writeAtFinish: write a generation at `finish()` even if nothing changed (e.g. none is on disk yet).
    public init(
        directory: CheckpointDirectory, keep: Int, document: StateDocument, nextGeneration: UInt64,
        writeAtFinish: Bool = false, logger: Logger
    ) {
        self.keep = max(1, keep)
        self.logger = logger
        self.state = Mutex(State(directory: directory, document: document, dirty: writeAtFinish, nextGeneration: nextGeneration))
    }

    /// Starts the writer thread.
    public func start() {
        state.withLock { $0.started = true }
        let thread = Thread { [self] in runLoop() }
        thread.name = "normd-checkpoint"
        thread.start()
    }

    public func offer(_ snapshot: StateSnapshot) {
        let accepted = state.withLock { state -> Bool in
            guard let index = state.document.pipelines.firstIndex(where: { $0.name == snapshot.pipeline }),
                state.document.pipelines[index].stages.count == snapshot.states.count
            else { return false }
            for (stage, saved) in snapshot.states.enumerated() {
                state.document.pipelines[index].stages[stage].stateVersion = saved.stateVersion
                state.document.pipelines[index].stages[stage].statistics = saved.statistics
                state.document.pipelines[index].stages[stage].counters = saved.counters
            }
            if let step = snapshot.syncStep { state.document.pipelines[index].syncStep = Int64(clamping: step) }
            state.dirty = true
            return true
        }
        if accepted {
            wake.signal()
        } else {
            logger.error("checkpoint snapshot for an unknown pipeline ignored", metadata: ["pipeline": "\(snapshot.pipeline)"])
        }
    }

    /// Writes a generation now, whether or not the statistics changed (`requestedBy` is logged with
    /// it, at info). Pipelines should offer their snapshots first.
    public func writeNow(requestedBy: String) {
        state.withLock {
            $0.dirty = true
            $0.requestedBy = requestedBy
        }
        wake.signal()
    }

    /// Replaces a pipeline's record (stages, fingerprints, params, statistics) after a reload changed
    /// its chain, and schedules a generation: later snapshots carry only statistics, so the record
    /// must describe the new stages before the first of them arrives.
    public func adopt(_ record: PipelineStateRecord) {
        state.withLock {
            $0.document.upsert(record)
            $0.dirty = true
        }
        wake.signal()
    }

    /// The sync group step `pipeline`'s statistics are at in the writer's document (restored from
    /// the checkpoint, then as snapshots report it); `nil` when none was recorded.
    public func syncStep(of pipeline: String) -> UInt64? {
        state.withLock { state in
            state.document.pipeline(named: pipeline)?.syncStep.flatMap { UInt64(exactly: $0) }
        }
    }

    /// The newest generation this writer wrote, if any (a reload waits for the next one).
    public var lastWrittenGeneration: UInt64? { state.withLock { $0.lastWritten?.number } }

    /// Writes the following generations into `directory` (a reload changed `checkpoint.path`), numbered
    /// from `nextGeneration` (one past the highest there). Returns the previous directory and number,
    /// to move back if the first write there fails. The caller asks for that write (`writeNowAndWait`).
    @discardableResult
    public func move(to directory: CheckpointDirectory, nextGeneration: UInt64) -> (CheckpointDirectory, UInt64) {
        state.withLock { state in
            defer { state.directory = directory; state.nextGeneration = nextGeneration }
            return (state.directory, state.nextGeneration)
        }
    }

    /// Writes a generation now, like `writeNow(requestedBy:)`, and returns once it is durable (or
    /// its write failed). A request that arrives while a write is under way waits for the next one,
    /// so the generation it gets holds every snapshot offered before it asked.
    public func writeNowAndWait(requestedBy: String) async -> WriteOutcome {
        await withCheckedContinuation { (continuation: CheckedContinuation<WriteOutcome, Never>) in
            let refused = state.withLock { state -> Bool in
                if state.stopping || state.threadEnded { return true }
                state.waiters.append(continuation)
                state.dirty = true
                state.requestedBy = requestedBy
                return false
            }
            if refused { continuation.resume(returning: .failed("the daemon is shutting down")) } else { wake.signal() }
        }
    }

    /// Records a pipeline's live mode override (`PipelineStateRecord.mode`) for the next generation,
    /// and asks for one, so a restart comes back in that mode.
    public func setMode(_ mode: Mode, of pipeline: String) {
        let known = state.withLock { state -> Bool in
            guard let index = state.document.pipelines.firstIndex(where: { $0.name == pipeline }) else { return false }
            state.document.pipelines[index].mode = mode
            state.dirty = true
            return true
        }
        if known { wake.signal() }
    }

    /// Checkpoint writes that failed since the start.
    public var writeFailures: Int { state.withLock { $0.failures } }

    /// Checkpoint writes that succeeded since the start, and when the last one did, in
    /// seconds since 1970 (`nil`: none yet).
    public var writeSuccesses: (count: Int, lastUnixTime: Double?) { state.withLock { ($0.successes, $0.lastSuccess) } }

    /// Writes the final generation (if anything changed since the last one, or the last one is gone)
    /// and stops the thread. Call after every pipeline has flushed and offered its final snapshot.
    @discardableResult
    public func finish() async -> FinalCheckpoint {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = state.withLock { state -> Bool in
                if state.threadEnded || !state.started { return true }
                state.finishWaiter = continuation
                state.stopping = true
                return false
            }
            if ended { continuation.resume() } else { wake.signal() }
        }
        return state.withLock { $0.final ?? $0.lastWritten.map(FinalCheckpoint.written) ?? .unchanged }
    }

    /// The statistics the next generation will hold.
    public var document: StateDocument { state.withLock { $0.document } }

    private func runLoop() {
        while true {
            wake.wait()
            let (job, stopping, waiters) = state.withLock {
                state -> ((StateDocument, UInt64, CheckpointDirectory)?, Bool, [CheckedContinuation<WriteOutcome, Never>]) in
                // At the end, a generation this run wrote that has vanished (directory deleted or
                // replaced) is not a checkpoint: write again rather than name a missing file.
                if state.stopping, !state.dirty, let last = state.lastWritten, !FileManager.default.fileExists(atPath: last.path) {
                    state.dirty = true
                }
                guard state.dirty else { return (nil, state.stopping, []) }
                state.dirty = false
                defer { state.waiters = [] }
                return ((state.document, state.nextGeneration, state.directory), state.stopping, state.waiters)
            }
            if let (document, number, directory) = job {
                let outcome = write(document, generation: number, into: directory)
                if stopping { state.withLock { $0.final = outcome } }
                let answer: WriteOutcome =
                    switch outcome {
                    case .written(let generation): .written(generation)
                    case .failed(let why): .failed(why)
                    case .unchanged: .failed("nothing written")
                    }
                waiters.forEach { $0.resume(returning: answer) }
            }
            if stopping { break }
        }
        switch state.withLock({ $0.final ?? $0.lastWritten.map(FinalCheckpoint.written) ?? .unchanged }) {
        case .written(let generation):
            logger.info("final checkpoint", metadata: ["file": "\(generation.path)", "generation": "\(generation.number)"])
        case .unchanged:
            logger.info("final checkpoint: statistics unchanged since the restored generation; none written")
        case .failed(let error):
            logger.error("final checkpoint failed; none written at shutdown", metadata: ["error": "\(error)"])
        }
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.threadEnded = true
            defer { state.finishWaiter = nil }
            return state.finishWaiter
        }
        waiter?.resume()
    }

    /// `directory` and `number` were taken together (a `move` in between cannot mix them).
    private func write(_ document: StateDocument, generation number: UInt64, into directory: CheckpointDirectory) -> FinalCheckpoint {
        do {
            let generation = try directory.write(document, generation: number)
            let (recoveredAfter, requestedBy) = state.withLock { state -> (Int?, String?) in
                if state.directory.path == directory.path { state.nextGeneration = number + 1 }
                state.lastWritten = generation
                state.successes += 1
                state.lastSuccess = Date().timeIntervalSince1970
                defer { state.failing = false; state.requestedBy = nil }
                return (state.failing ? state.failures : nil, state.requestedBy)
            }
            let pruned = directory.prune(keep: keep)
            let metadata: Logger.Metadata = ["file": "\(generation.path)", "generation": "\(number)"]
            if let failures = recoveredAfter {
                logger.notice("checkpoint writes recovered", metadata: metadata.merging(["failures": "\(failures)"]) { $1 })
            }
            if let requestedBy {
                logger.info("checkpoint written on request", metadata: metadata.merging(["signal": "\(requestedBy)"]) { $1 })
            } else {
                logger.debug("checkpoint written", metadata: metadata.merging(["pruned": "\(pruned.count)"]) { $1 })
            }
            return .written(generation)
        } catch {
            // Keep the statistics marked as changed: the next offer (or finish) tries again. Logged
            // when writes start failing, not for every snapshot (one per batch would flood the log).
            let (firstFailure, failures, last) = state.withLock { state -> (Bool, Int, CheckpointDirectory.Generation?) in
                state.dirty = true
                state.failures += 1
                defer { state.failing = true }
                return (!state.failing, state.failures, state.lastWritten)
            }
            if firstFailure {
                logger.error(
                    "checkpoint writes failing; statistics since the last written generation are not durable",
                    metadata: [
                        "error": "\(error)", "failures": "\(failures)", "last_written": "\(last?.path ?? "none")",
                    ])
            }
            return .failed("\(error)")
        }
    }
}
