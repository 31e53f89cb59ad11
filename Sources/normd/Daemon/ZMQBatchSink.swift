import Logging
import NormConfig
import NormCore
import Pipeline
import StageKit
import WireFormat
import ZeroMQ

/// Publishes normalized batches on a pipeline's output socket.
///
/// What happens when nobody consumes depends on the socket, and is deliberate:
/// - `push` waits (back-pressure): the loop stops reading its inputs, their queues fill, and PUSH
///   producers block in turn — nothing is lost. At shutdown the wait is bounded by
///   `output.shutdown_timeout`, after which the batch is counted as dropped and logged.
/// - `pub` never waits: libzmq drops the batch for a subscriber whose queue is full, silently
///   (only producer `seq` gaps downstream can show it).
/// - `xpub` sets `ZMQ_XPUB_NODROP`: a full queue refuses the send, and normd counts the drop.
final class ZMQBatchSink: BatchSink {
    private let socket: ZMQSocket
    private let endpoint: OutputEndpoint
    private let stopFlag: StopFlag
    private let logger: Logger
    private var encoder: BatchEncoder
    private var metadata = BatchMetadata(pipeline: "", batch: 0, mode: .train, stages: [], statsVersion: 0, sources: [], downgraded: nil)
    private let poller: ZMQPoller
    private var dropLog = RateLimitedLog(perInterval: 10, interval: .seconds(10))

    init(socket: ZMQSocket, endpoint: OutputEndpoint, stopFlag: StopFlag, logger: Logger) {
        self.socket = socket
        self.endpoint = endpoint
        self.stopFlag = stopFlag
        self.logger = logger
        self.encoder = BatchEncoder(codec: endpoint.codec, topic: endpoint.socket == .push ? nil : endpoint.topic)
        self.poller = ZMQPoller(capacity: 1)
        _ = poller.register(socket, for: .pollOut)
    }

    func publish(_ batch: FeatureBatch, _ info: PublishedBatch) -> Bool {
        // Refilled in place: a warm sink allocates nothing per batch.
        metadata.refill(from: info)
        let outcome: SendOutcome = encoder.encode(batch, metadata: metadata) { frames in send(frames) }
        switch outcome {
        case .sent:
            return true
        case .refused(let why):
            if let suppressed = dropLog.admit() {
                logger.warning("batch dropped: \(why)", metadata: [
                    "batch": "\(info.sequence)", "rows": "\(batch.rows)", "endpoint": "\(endpoint.endpoint)",
                    "suppressed": "\(suppressed)",
                ])
            }
            return false
        }
    }

    private enum SendOutcome {
        case sent
        case refused(String)
    }

    private func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> SendOutcome {
        var shutdownDeadline: ContinuousClock.Instant?
        while true {
            do {
                // libzmq queues a multipart message whole or not at all: only the first frame can
                // meet the high-water mark, the rest follow.
                if try socket.send(frames[0], flags: frames.count > 1 ? [.dontWait, .sendMore] : .dontWait) {
                    for index in 1..<frames.count {
                        _ = try socket.send(frames[index], flags: index < frames.count - 1 ? .sendMore : [])
                    }
                    return .sent
                }
            } catch {
                return .refused("send failed: \(error)")
            }
            switch endpoint.socket {
            case .xpub:
                return .refused("the subscribers' queues are full (xpub no-drop)")
            case .pub:
                return .refused("pub refused the batch")
            case .push:
                if stopFlag.isSet {
                    let deadline = shutdownDeadline ?? (ContinuousClock.now + endpoint.shutdownTimeout)
                    shutdownDeadline = deadline
                    if ContinuousClock.now >= deadline {
                        return .refused("no consumer took the batch within shutdown_timeout at shutdown")
                    }
                }
                _ = try? poller.poll(timeoutMilliseconds: 100)
            }
        }
    }
}
