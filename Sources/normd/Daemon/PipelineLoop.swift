import Foundation
import Logging
import NormConfig
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
final class PipelineLoop: Sendable {
    let configuration: PipelineConfiguration
    /// The pipeline's counts, readable from any thread.
    let board = CounterBoard()
    private let context: ZMQContext
    private let logger: Logger
    private let stopFlag = StopFlag()
    private let lifecycle = Mutex(Lifecycle())
    /// The chain is handed to the thread exactly once.
    private let parkedChain: Mutex<ChainBox?>
    /// Where the pipeline's statistics snapshots go; `nil` without `checkpoint:`.
    private let checkpoints: CheckpointHook?

    private struct Lifecycle {
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    init(configuration: PipelineConfiguration, chain: StageChain, context: ZMQContext, logger: Logger,
         checkpoints: CheckpointHook? = nil) {
        self.configuration = configuration
        self.checkpoints = checkpoints
        self.context = context
        var logger = logger
        logger[metadataKey: "pipeline"] = "\(configuration.name)"
        self.logger = logger
        self.parkedChain = Mutex(ChainBox(chain))
    }

    /// Starts the thread and returns once every socket is bound or connected.
    /// - Throws: `DaemonError.socketSetup` naming the endpoint; the thread has then ended.
    func start() async throws {
        guard let chain = parkedChain.withLock({ box -> ChainBox? in defer { box = nil }; return box }) else {
            throw DaemonError.internalState("pipeline \(configuration.name) started twice")
        }
        let configuration = self.configuration, context = self.context, logger = self.logger
        let board = self.board, stopFlag = self.stopFlag, checkpoints = self.checkpoints
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let thread = Thread { [self] in
                defer { self.markFinished() }
                let runner: PipelineRunner
                do {
                    runner = try PipelineRunner(configuration: configuration, chain: chain.chain, context: context,
                                                board: board, stopFlag: stopFlag, logger: logger, checkpoints: checkpoints)
                } catch {
                    ready.resume(throwing: error)
                    return
                }
                ready.resume()
                runner.run()
            }
            thread.name = "normd-\(configuration.name)"
            thread.start()
        }
    }

    /// Asks the thread to stop intake, flush the partial batch, send it and close; returns at once.
    func requestStop() {
        stopFlag.set()
    }

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
        let waiters = lifecycle.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }
}

/// A flag one thread sets and another polls.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// Moves the non-Sendable chain (live statistics) to the pipeline's thread, which then owns it alone.
struct ChainBox: @unchecked Sendable {
    let chain: StageChain
    init(_ chain: StageChain) { self.chain = chain }
}
