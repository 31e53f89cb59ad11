import Foundation
public import Logging
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
public final class CheckpointWriter: StateSnapshotSink, Sendable {
    private struct State {
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
    }

    public let directory: CheckpointDirectory
    public let keep: Int
    private let logger: Logger
    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - document: every pipeline's statistics as the run starts (restored or fresh); each pipeline
    ///     that will offer snapshots must be in it, since a snapshot carries only the stages' states.
    ///   - nextGeneration: one past the highest generation number in the directory.
    ///   - writeAtFinish: write a generation at `finish()` even if nothing changed (e.g. none is on disk yet).
    public init(directory: CheckpointDirectory, keep: Int, document: StateDocument, nextGeneration: UInt64,
                writeAtFinish: Bool = false, logger: Logger) {
        self.directory = directory
        self.keep = max(1, keep)
        self.logger = logger
        self.state = Mutex(State(document: document, dirty: writeAtFinish, nextGeneration: nextGeneration))
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
                  state.document.pipelines[index].stages.count == snapshot.states.count else { return false }
            for (stage, saved) in snapshot.states.enumerated() {
                state.document.pipelines[index].stages[stage].stateVersion = saved.version
                state.document.pipelines[index].stages[stage].statistics = saved.vectors
                state.document.pipelines[index].stages[stage].counters = saved.counters
            }
            state.dirty = true
            return true
        }
        if accepted {
            wake.signal()
        } else {
            logger.error("checkpoint snapshot for an unknown pipeline ignored", metadata: ["pipeline": "\(snapshot.pipeline)"])
        }
    }

    /// Writes the final generation (if anything changed since the last one) and stops the thread.
    /// Call after every pipeline has flushed and offered its final snapshot.
    public func finish() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = state.withLock { state -> Bool in
                if state.threadEnded || !state.started { return true }
                state.finishWaiter = continuation
                state.stopping = true
                return false
            }
            if ended { continuation.resume() } else { wake.signal() }
        }
    }

    /// The statistics the next generation will hold.
    public var document: StateDocument { state.withLock { $0.document } }

    private func runLoop() {
        while true {
            wake.wait()
            let (job, stopping) = state.withLock { state -> ((StateDocument, UInt64)?, Bool) in
                guard state.dirty else { return (nil, state.stopping) }
                state.dirty = false
                return ((state.document, state.nextGeneration), state.stopping)
            }
            if let (document, number) = job { write(document, generation: number) }
            if stopping { break }
        }
        if let last = state.withLock({ $0.lastWritten }) {
            logger.info("final checkpoint", metadata: ["file": "\(last.path)", "generation": "\(last.number)"])
        }
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.threadEnded = true
            defer { state.finishWaiter = nil }
            return state.finishWaiter
        }
        waiter?.resume()
    }

    private func write(_ document: StateDocument, generation number: UInt64) {
        do {
            let generation = try directory.write(document, generation: number)
            state.withLock { $0.nextGeneration = number + 1; $0.lastWritten = generation }
            let pruned = directory.prune(keep: keep)
            logger.debug("checkpoint written", metadata: [
                "file": "\(generation.path)", "generation": "\(number)", "pruned": "\(pruned.count)",
            ])
        } catch {
            // Keep the statistics marked as changed: the next offer (or finish) tries again.
            state.withLock { $0.dirty = true }
            logger.error("checkpoint write failed; will retry with the next snapshot", metadata: ["error": "\(error)"])
        }
    }
}
