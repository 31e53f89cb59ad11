import Logging
import NormConfig
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
    /// At shutdown, messages already queued are read up to this many per input, so a producer that
    /// keeps sending cannot hold shutdown open.
    static let shutdownDrainLimit = 100_000

    private let configuration: PipelineConfiguration
    private let inputs: [ZMQSocket]
    /// Each input's endpoint as bound (the real port for `tcp://…:*`), for log lines.
    private let inputEndpoints: [String]
    private let output: ZMQSocket
    private let sink: ZMQBatchSink
    private let engine: PipelineEngine
    private let stopFlag: StopFlag
    private let logger: Logger
    private var decoders: [MessageDecoder]
    private var parts = ZMQMultipart(reservingCapacity: 3)
    private var frames: [UnsafeRawBufferPointer] = []
    private var rejectionLog = RateLimitedLog(perInterval: 20, interval: .seconds(10))

    /// Creates, configures and binds/connects every socket; logs each endpoint actually bound
    /// (so `tcp://127.0.0.1:*` can be used and its port read from the log).
    init(configuration: PipelineConfiguration, chain: StageChain, context: ZMQContext, board: CounterBoard,
         stopFlag: StopFlag, logger: Logger, checkpoints: CheckpointHook? = nil) throws {
        guard let outputEndpoint = configuration.output else {
            throw DaemonError.internalState("pipeline \(configuration.name) has no output")
        }
        self.configuration = configuration
        self.stopFlag = stopFlag
        self.logger = logger
        var inputs: [ZMQSocket] = []
        var inputEndpoints: [String] = []
        do {
            let batchBytes = configuration.batch.size * configuration.features * 4 + 4096
            for (index, input) in configuration.inputs.enumerated() {
                var inputLogger = logger
                inputLogger[metadataKey: "input"] = "\(index)"
                let guarding = SocketFactory.Guarding(pipeline: configuration.name, index: index, maxConnections: input.maxConnections,
                                                      board: board, logger: inputLogger)
                let socket = try SocketFactory.input(input, context: context, batchBytes: batchBytes, guarded: guarding)
                inputs.append(socket)
                inputEndpoints.append(input.bind ? (try? socket.lastEndpoint) ?? input.endpoint : input.endpoint)
                logger.info("input \(input.bind ? "bound" : "connecting")", metadata: [
                    "input": "\(index)", "socket": "\(input.socket.rawValue)", "codec": "\(input.codec.rawValue)",
                    "endpoint": "\(inputEndpoints[index])",
                ])
            }
            output = try SocketFactory.output(outputEndpoint, context: context, batchBytes: batchBytes)
            logger.info("output \(outputEndpoint.bind ? "bound" : "connecting")", metadata: [
                "socket": "\(outputEndpoint.socket.rawValue)", "codec": "\(outputEndpoint.codec.rawValue)",
                "endpoint": "\(outputEndpoint.bind ? (try? output.lastEndpoint) ?? outputEndpoint.endpoint : outputEndpoint.endpoint)",
            ])
        } catch {
            inputs.forEach { $0.close() }
            throw DaemonError.socketSetup(pipeline: configuration.name, String(describing: error))
        }
        self.inputs = inputs
        self.inputEndpoints = inputEndpoints
        self.decoders = configuration.inputs.map { MessageDecoder(codec: $0.codec, features: configuration.features) }
        self.sink = ZMQBatchSink(socket: output, endpoint: outputEndpoint, stopFlag: stopFlag, logger: logger)
        self.engine = PipelineEngine(
            settings: .init(name: configuration.name, mode: configuration.mode, batchSize: configuration.batch.size,
                            maxLatency: configuration.batch.maxLatency, invalidRows: configuration.invalidRows,
                            maxProducers: configuration.maxProducers),
            chain: chain, sink: sink, board: board, logger: logger)
        if let checkpoints { engine.enableCheckpoints(sink: checkpoints.sink, cadence: checkpoints.cadence) }
    }

    func run() {
        receiveUntilStopped()
        // Stop intake: what libzmq already queued for us was sent to us; read it, then close.
        for index in inputs.indices {
            _ = drain(input: index, limit: Self.shutdownDrainLimit)
            inputs[index].close()
        }
        engine.flushPartial()
        engine.offerFinalSnapshot()
        output.close()
        engine.publishCounts()
        logger.info("pipeline stopped", metadata: ["counts": "\(engine.counts.summary)"])
    }

    private func receiveUntilStopped() {
        let poller = ZMQPoller(capacity: inputs.count)
        for socket in inputs { _ = poller.register(socket, for: .pollIn) }
        var lastCountsPublished = ContinuousClock.now
        while !stopFlag.isSet {
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
            let now = ContinuousClock.now
            engine.flushIfDue(now: now)
            engine.offerSnapshotIfDue(now: now)
            if now - lastCountsPublished > .milliseconds(500) {
                engine.publishCounts()
                lastCountsPublished = now
            }
        }
    }

    /// Reads up to `limit` queued messages without blocking; returns how many were read.
    private func drain(input index: Int, limit: Int) -> Int {
        var count = 0
        while count < limit {
            do {
                guard try inputs[index].receiveMultipart(into: &parts, flags: .dontWait) else { return count }
            } catch {
                logger.error("receive failed", metadata: [
                    "input": "\(index)", "endpoint": "\(inputEndpoints[index])", "error": "\(error)",
                ])
                return count
            }
            count += 1
            accept(input: index, arrival: .now)
        }
        return count
    }

    private func accept(input index: Int, arrival: ContinuousClock.Instant) {
        frames.removeAll(keepingCapacity: true)
        // Each frame's bytes stay put until `parts` is refilled by the next receive.
        var size = 0
        for part in parts {
            frames.append(part.withUnsafeBytes { $0 })
            size += part.size
        }
        guard size <= configuration.inputs[index].maxMessageBytes else {
            engine.recordUndecodable(reason: "oversize")
            logRejection(input: index, reason: "oversize",
                         "message is \(size) bytes, above max_message_bytes (\(configuration.inputs[index].maxMessageBytes))")
            return
        }
        frames.withUnsafeBufferPointer { frames in
            do throws(WireError) {
                let message = try decoders[index].decode(frames)
                if let rejection = engine.accept(message, input: index, arrival: arrival) {
                    logRejection(input: index, reason: rejection.reason, rejection.description)
                }
            } catch {
                engine.recordUndecodable(reason: error.reason)
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

extension Duration {
    /// Whole milliseconds, rounded up so a short wait does not become a busy loop of zero-timeouts.
    var roundedUpMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}
