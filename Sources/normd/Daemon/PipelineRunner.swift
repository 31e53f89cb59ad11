import Checkpoint
import Logging
import NormConfig
import NormCore
import Pipeline
import StageKit
import WireFormat
import ZeroMQ

/// One pipeline's data path on its own thread: poll the inputs, decode, hand rows to the engine,
/// flush overdue partial batches, and on stop drain, flush and close. Never shared between threads.
final class PipelineRunner {
    /// Longest the loop sleeps in `zmq_poll` before looking at the stop flag and the latency deadline.
    static let wakeInterval: Duration = .milliseconds(100)
    /// Messages read from one input before the others get a turn (fairness between inputs).
    static let drainLimit = 256

    let configuration: PipelineConfiguration
    private let inputs: [ZMQSocket]
    /// Each input's endpoint as bound (the real port for `tcp://…:*`), for log lines.
    private let inputEndpoints: [String]
    private let output: ZMQSocket
    /// This pipeline's own context, terminated by `run()` once every socket is closed.
    let context: ZMQContext
    private let snapshotRequests: SnapshotRequests?
    /// Told about a reloaded chain's stages (their fingerprints and params go into later generations).
    let checkpointWriter: CheckpointWriter?
    /// Where a reload's new chain waits for this thread (`PipelineLoop.reload`).
    private let reloads: @Sendable () -> ReloadOrder?
    let control: PipelineControl
    /// The `mode` the configuration says (at start, or after the latest reload), to tell whether a
    /// reload changed it: only then does it replace a mode switched through the admin endpoint.
    private var configuredMode: Mode
    /// Set once intake has stopped: the final reads are bounded by RCVHWM, not by the stop flag.
    private var shuttingDown = false
    private let sink: ZMQBatchSink
    let engine: PipelineEngine
    private let stopFlag: StopFlag
    let logger: Logger
    /// The receive path's per-message state; `drain` moves it into a local for the burst.
    private var receiving: ReceiveState
    private var rejectionLog = RateLimitedLog(perInterval: 20, interval: .seconds(10))
    /// `security: curve:`; `nil` without it.
    let curve: CurveGate?
    let board: CounterBoard
    /// Per input: whether it is a CURVE server, whose messages carry the client key as User-Id.
    private let checksUserID: [Bool]
    /// `sync:`'s member (see PipelineRunner+Sync.swift).
    var syncMember: SyncMember?

    /// Creates, configures and binds/connects every socket; logs each endpoint actually bound
    /// (so `tcp://127.0.0.1:*` can be used and its port read from the log).
    init(
        configuration: PipelineConfiguration, chain: StageChain, context: ZMQContext, board: CounterBoard,
        stopFlag: StopFlag, logger: Logger, checkpoints: CheckpointHook? = nil,
        reloads: @escaping @Sendable () -> ReloadOrder? = { nil }, control: PipelineControl, curve: CurveGate? = nil,
        statistics: StatisticsLink? = nil, resuming: PipelineLoop.Resume? = nil
    ) throws {
        guard let outputEndpoint = configuration.output else {
            throw DaemonError.internalState("pipeline \(configuration.name) has no output")
        }
        self.configuration = configuration
        self.stopFlag = stopFlag
        self.logger = logger
        self.context = context
        self.snapshotRequests = checkpoints?.requests
        self.checkpointWriter = checkpoints?.sink as? CheckpointWriter
        self.reloads = reloads
        self.control = control
        self.curve = curve
        self.board = board
        self.checksUserID = configuration.inputs.map { SocketFactory.isCurveServer($0.security, curve) }
        var inputs: [ZMQSocket] = []
        var inputEndpoints: [String] = []
        do {
            // A batch plus room for its header; saturating, as `batchBytes` itself is.
            let batchBytes = min(configuration.batchBytes, Int.max - 4096) + 4096
            for (index, input) in configuration.inputs.enumerated() {
                var inputLogger = logger
                inputLogger[metadataKey: "input"] = "\(index)"
                let guarding = SocketFactory.Guarding(
                    pipeline: configuration.name, index: index, board: board, logger: inputLogger,
                    curve: curve)
                let socket = try SocketFactory.input(
                    input, context: context, batchBytes: batchBytes, ioThreadMask: configuration.ioThreads == 2 ? 0b01 : 0, guarded: guarding)
                inputs.append(socket)
                inputEndpoints.append(input.bind ? (try? socket.lastEndpoint) ?? input.endpoint : input.endpoint)
                logger.info(
                    "input \(input.bind ? "bound" : "connecting")",
                    metadata: [
                        "input": "\(index)", "socket": "\(input.socket.rawValue)", "codec": "\(input.codec.rawValue)",
                        "endpoint": "\(inputEndpoints[index])",
                    ])
            }
            var outputLogger = logger
            outputLogger[metadataKey: "output"] = "\(outputEndpoint.endpoint)"
            output = try SocketFactory.output(
                outputEndpoint, context: context, batchBytes: batchBytes, ioThreadMask: configuration.ioThreads == 2 ? 0b10 : 0,
                guarded: .init(pipeline: configuration.name, index: -1, board: board, logger: outputLogger, curve: curve))
            logger.info(
                "output \(outputEndpoint.bind ? "bound" : "connecting")",
                metadata: [
                    "socket": "\(outputEndpoint.socket.rawValue)", "codec": "\(outputEndpoint.codec.rawValue)",
                    "endpoint": "\(outputEndpoint.bind ? (try? output.lastEndpoint) ?? outputEndpoint.endpoint : outputEndpoint.endpoint)",
                ])
        } catch {
            inputs.forEach { $0.close() }
            throw DaemonError.socketSetup(pipeline: configuration.name, String(describing: error))
        }
        self.inputs = inputs
        self.inputEndpoints = inputEndpoints
        self.receiving = ReceiveState(
            decoders: configuration.inputs.map { MessageDecoder(codec: $0.codec, features: configuration.features) })
        self.sink = ZMQBatchSink(socket: output, endpoint: outputEndpoint, stopFlag: stopFlag, logger: logger, control: control)
        self.configuredMode = configuration.mode
        self.engine = PipelineEngine(settings: Self.settings(of: configuration), chain: chain, sink: sink, board: board, logger: logger)
        if let checkpoints { engine.enableCheckpoints(sink: checkpoints.sink, cadence: checkpoints.cadence) }
        statistics?.attach(to: engine)
        if let resuming {
            engine.resume(counts: resuming.counts, nextBatch: resuming.nextBatch, sequences: resuming.sequences)
            _ = engine.switchMode(to: resuming.mode)
            control.mode = resuming.mode
        }
        try attachSyncGroup()
    }

    /// Runs until stopped, then shuts down within the output's `shutdown_timeout`, counted from the stop:
    /// 1. intake stops at once: each input gives at most its RCVHWM more messages — what libzmq had
    ///    already queued for us — and is closed (a producer that keeps sending cannot hold us open);
    /// 2. the partial batch is flushed; a PUSH output blocked on a stalled consumer waits only until
    ///    the deadline (a second signal: not at all), then the batch is counted as dropped;
    /// 3. the final snapshot goes to the checkpoint writer;
    /// 4. the output closes with the rest of the budget as its linger, and this pipeline's own
    ///    context is terminated: returning before the linger expired proves the queue drained
    ///    (handed to the kernel), otherwise the final counts say how many batches are unconfirmed.
    func run() {
        receiveUntilStopped()
        shuttingDown = true
        for index in inputs.indices {
            let queued = (try? inputs[index].receiveHighWaterMark) ?? 0
            _ = drain(input: index, limit: queued > 0 ? queued : Self.drainLimit)
            try? inputs[index].setLinger(milliseconds: 0)
            inputs[index].close()
        }
        engine.flushPartial()
        engine.stopChainThread()
        engine.offerFinalSnapshot()
        syncMember?.close()
        var counts = engine.counts
        counts.outputAtShutdown = closeOutput(published: counts.batchesPublished)
        engine.board.publish(counts)
        logger.info("pipeline stopped", metadata: ["counts": "\(counts.summary)"])
    }

    /// What a successor takes over when a reload replaces this loop (after `run()` returned).
    var handOver: PipelineLoop.HandOver {
        .init(
            chain: engine.chain, counts: engine.counts, nextBatch: engine.nextBatchNumber, mode: engine.settings.mode,
            sequences: engine.sequenceTracker)
    }

    /// Closes the output with what remains of the shutdown budget as linger, terminates the
    /// pipeline's context (every other socket is closed by now) and reports whether the queue drained.
    ///
    /// Not drained: the final counts give `ZMQBatchSink.unconfirmedAtClose`, the most batches the
    /// close can have lost (libzmq's queue, its engine buffer, an ipc socket's kernel buffer).
    private func closeOutput(published: Int) -> PipelineCounts.OutputAtShutdown {
        let highWaterMark = (try? output.sendHighWaterMark) ?? 0 // 0: unbounded, every batch counts
        let remaining = stopFlag.outputAbandoned ? Duration.zero : max(.zero, sink.shutdownDeadline - .now)
        let (seconds, attoseconds) = remaining.components
        let linger = Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        try? output.setLinger(milliseconds: linger)
        output.close()
        let closedAt = ContinuousClock.now
        context.terminate()
        if published == 0 || (linger > 0 && ContinuousClock.now - closedAt < .milliseconds(linger)) { return .drained }
        return .unconfirmed(min(published, sink.unconfirmedAtClose(highWaterMark: highWaterMark)))
    }

    private func receiveUntilStopped() {
        let poller = ZMQPoller(capacity: inputs.count)
        for socket in inputs { _ = poller.register(socket, for: .pollIn) }
        var lastCountsPublished = ContinuousClock.now, lastTrim = lastCountsPublished
        while !stopFlag.isSet {
            control.turned()
            var wait = Self.wakeInterval
            if let deadline = engine.flushDeadline { wait = max(.zero, min(wait, deadline - .now)) }
            do {
                if try poller.poll(timeoutMilliseconds: wait.roundedUpMilliseconds) > 0 {
                    for index in inputs.indices where poller.isReadable(index) {
                        _ = drain(input: index, limit: Self.drainLimit)
                    }
                }
            } catch {
                logger.error("poll failed; retrying", metadata: ["error": "\(error)"])
            }
            // With `chain_thread`, the last full batch of the burst is published now, not when the
            // next one fills; everything below may read the chain.
            engine.finishInFlight()
            let now = ContinuousClock.now
            engine.flushIfDue(now: now)
            engine.serviceSync()
            engine.offerSnapshotIfDue(now: now)
            if let wanted = snapshotRequests?.pending {
                engine.offerFinalSnapshot() // only if anything changed; the writer writes a generation anyway
                snapshotRequests?.markServed(wanted)
            }
            if let order = reloads() { takeOver(order) }
            serveControlRequests()
            if now - lastCountsPublished > .milliseconds(500) {
                engine.publishCounts()
                lastCountsPublished = now
            }
            if now - lastTrim >= .milliseconds(100) {
                sink.payloadBuffers.trimIdle(now: now)
                lastTrim = now
            }
        }
    }

    /// The engine's settings for `configuration` (at start, and after a reload).
    private static func settings(of configuration: PipelineConfiguration) -> PipelineEngine.Settings {
        .init(
            name: configuration.name, mode: configuration.mode, batchSize: configuration.batch.size,
            maxLatency: configuration.batch.maxLatency, invalidRows: configuration.invalidRows,
            maxProducers: configuration.maxProducers, chainThread: configuration.chainThread)
    }

    /// A reload, at a batch boundary: no batch is in the chain, rows waiting in the batcher stay.
    /// The kept stages' statistics are copied into the new chain first (all of them, or none and the
    /// old chain runs on); its `stats_version` continues after the old one; the checkpoint writer
    /// learns the new stages before any snapshot of them; then the engine takes the new chain.
    private func takeOver(_ order: ReloadOrder) {
        let old = engine.chain
        let saved = old.saveState()
        do {
            for index in order.kept { try order.chain.links[index].stage.restoreState(saved[index]) }
        } catch {
            logger.error("reload: cannot carry statistics over; this pipeline runs on with its old stages", metadata: ["error": "\(error)"])
            order.done.resume(
                returning: "pipeline '\(order.configuration.name)': cannot carry its statistics over: \(error); it runs on with its old stages")
            return
        }
        order.chain.continueStatsVersion(after: old.statsVersion)
        // A mode switched through the admin endpoint lasts until a reload changes the configured mode.
        var settings = Self.settings(of: order.configuration)
        if order.configuration.mode == configuredMode { settings.mode = engine.settings.mode }
        configuredMode = order.configuration.mode
        var record = PipelineStateRecord(name: order.configuration.name, chain: order.chain)
        if settings.mode != configuredMode { record.mode = settings.mode }
        checkpointWriter?.adopt(record)
        engine.replace(chain: order.chain, settings: settings)
        control.mode = settings.mode
        order.done.resume(returning: nil)
    }

    /// Between two batches: a mode switch takes effect here (its `from_batch` is the next batch's
    /// number, exactly), a statistics copy is taken here. One atomic load each when nothing waits.
    private func serveControlRequests() {
        control.modeRequests.serve { mode in
            control.mode = mode
            let from = engine.switchMode(to: mode)
            logger.notice("mode switched", metadata: ["mode": "\(mode.rawValue)", "from_batch": "\(from)"])
            return from
        }
        control.statisticsRequests.serve { _ in PipelineStateRecord(name: configuration.name, chain: engine.chain) }
        control.pendingRows.set(engine.pendingRows)
    }

    /// Reads up to `limit` queued messages without blocking; returns how many were read.
    ///
    /// One clock reading stamps a whole burst (`drainLimit` messages at most; a longer shutdown drain
    /// reads the clock again every `drainLimit`): `ContinuousClock.now` per message was 1.4–1.8 % of
    /// normd's CPU at 1-row messages. The reading is taken before the burst, so a stamp is never
    /// later than the message's read, and earlier by at most the receive, decode and accept time of
    /// the messages before it in the burst — never by a chain run or a blocked publish: the engine
    /// raises stamps to the end of the last batch it published. Earlier means `max_latency` flushes a
    /// partial batch that much early, never late, and the arrival-to-publication latency reads that
    /// much longer, never shorter.
    ///
    /// The receive state (frames, decoders) is moved out of `self` into a local for the burst and back
    /// after: a class's stored `var` costs a dynamic exclusivity check per access (`swift_beginAccess`,
    /// a thread-local access set), a local's is checked at compile time — one pair per burst instead
    /// of several per message (2.7–3.6 % of normd's CPU samples at 128 features × 1-row messages).
    private func drain(input index: Int, limit: Int) -> Int {
        var state = ReceiveState.placeholder
        swap(&state, &receiving)
        defer { swap(&state, &receiving) }
        var count = 0
        var arrival = ContinuousClock.now
        let socket = inputs[index]
        let shuttingDown = self.shuttingDown // does not change during a drain
        // Looked up once per drain, not per message (each lookup retained and released the arrays).
        let meters = control.inputs[index]
        let maxMessageBytes = configuration.inputs[index].maxMessageBytes
        // Once stopped, intake stops at once (the shutdown reads are bounded by `limit` alone).
        while count < limit && (shuttingDown || !stopFlag.isSet) {
            do {
                guard try socket.receiveMultipart(into: &state.parts, flags: .dontWait) else { return count }
            } catch {
                logger.error(
                    "receive failed",
                    metadata: [
                        "input": "\(index)", "endpoint": "\(inputEndpoints[index])", "error": "\(error)",
                    ])
                return count
            }
            if count > 0 && count % Self.drainLimit == 0 { arrival = .now }
            count += 1
            accept(input: index, arrival: arrival, state: &state, meters: meters, maxMessageBytes: maxMessageBytes)
        }
        return count
    }

    private func accept(
        input index: Int, arrival: ContinuousClock.Instant, state: inout ReceiveState, meters: InputMeters, maxMessageBytes: Int
    ) {
        // Revocation: ZAP ran only at the handshake; a key removed since then is refused here.
        if checksUserID[index], let curve, curve.mayHaveRevokedPeers,
            !(state.parts.first?.property("User-Id").map(curve.isAuthorized) ?? false)
        {
            engine.recordUndecodable(reason: "revoked_key") // messages_rejected: received, not accepted
            board.recordAuthFailure("revoked_key") // auth_failures: who sent it is why
            logRejection(
                input: index, reason: "revoked_key",
                "client key \(state.parts.first?.property("User-Id").map(CurveGate.prefix) ?? "?") is no longer in authorized_keys")
            return
        }
        // The frames' bytes are valid only inside this closure: the decoded message points into them
        // and is consumed (its rows copied into the batcher) before it returns.
        state.parts.withUnsafeFrameBuffers { frames, size in
            meters.received(bytes: size)
            guard size <= maxMessageBytes else {
                engine.recordUndecodable(reason: "oversize")
                control.rejected(input: index, reason: "oversize")
                logRejection(
                    input: index, reason: "oversize",
                    "message is \(size) bytes, above max_message_bytes (\(maxMessageBytes))")
                return
            }
            do throws(WireError) {
                let message = try state.decoders[index].decode(frames)
                meters.rows.add(message.rows)
                if let rejection = engine.accept(message, input: index, arrival: arrival) {
                    control.rejected(input: index, reason: rejection.reason)
                    logRejection(input: index, reason: rejection.reason, rejection.description)
                }
            } catch {
                engine.recordUndecodable(reason: error.reason)
                control.rejected(input: index, reason: error.reason)
                logRejection(input: index, reason: error.reason, error.description)
            }
        }
    }

    private func logRejection(input: Int, reason: String, _ message: String) {
        // A broken producer can send thousands of bad messages a second: log a bounded number,
        // count them all (the counts line reports every one).
        guard let suppressed = rejectionLog.admit() else { return }
        var metadata: Logger.Metadata = [
            "input": "\(input)", "endpoint": "\(inputEndpoints[input])", "reason": "\(reason)",
        ]
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.warning("message rejected: \(message)", metadata: metadata)
    }
}

/// What the receive path changes for every message: the reused frame container and each input's
/// decoder (its header cache and producer names). Kept in one struct so that `drain` can hold it in a
/// local variable for a whole burst. Nothing else reads it, so it may sit outside `self` meanwhile.
struct ReceiveState {
    var parts: ZMQMultipart
    /// One per input, by input index.
    var decoders: [MessageDecoder]

    /// The state for `decoders`' inputs, with frame objects for a 3-frame message (topic, header, payload).
    init(decoders: [MessageDecoder]) {
        parts = ZMQMultipart(reservingCapacity: 3)
        self.decoders = decoders
    }

    private init() {
        parts = ZMQMultipart()
        decoders = []
    }

    /// What stands in `PipelineRunner.receiving` while a drain holds the real state (allocates nothing).
    static var placeholder: ReceiveState { ReceiveState() }
}

extension Duration {
    /// Whole milliseconds, rounded up so a short wait does not become a busy loop of zero-timeouts.
    var roundedUpMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}
