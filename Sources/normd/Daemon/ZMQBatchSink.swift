import Foundation
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
///   producers block in turn — nothing is lost. At shutdown all waiting together is bounded by
///   `output.shutdown_timeout` counted from the stop (not per batch), and a second stop signal ends
///   it at once; a batch the output did not take by then is counted as dropped and logged.
///
/// "Published" means libzmq accepted the batch into its queue — not that a consumer read it;
/// `PipelineRunner` finds out at shutdown whether that queue drained.
/// - `pub` never waits: libzmq drops the batch for a subscriber whose queue is full, silently
///   (only producer `seq` gaps downstream can show it).
/// - `xpub` sets `ZMQ_XPUB_NODROP`: a full queue refuses the send, and normd counts the drop.
final class ZMQBatchSink: BatchSink {
    private let socket: ZMQSocket
    private let endpoint: OutputEndpoint
    private let stopFlag: StopFlag
    private let logger: Logger
    private var encoder: BatchEncoder
    private let poller: ZMQPoller
    private var dropLog = RateLimitedLog(perInterval: 10, interval: .seconds(10))
    private var recent = RecentSends()
    /// Per-batch meters and histograms for the admin server.
    private let control: PipelineControl?
    /// libzmq's engine buffer per connection (`ZMQ_OUT_BATCH_SIZE`, 8 KiB in libzmq 4.3).
    static let engineBufferBytes = 8192

    init(socket: ZMQSocket, endpoint: OutputEndpoint, stopFlag: StopFlag, logger: Logger, control: PipelineControl? = nil) {
        self.socket = socket
        self.control = control
        self.endpoint = endpoint
        self.stopFlag = stopFlag
        self.logger = logger
        self.encoder = BatchEncoder(codec: endpoint.codec, topic: endpoint.socket == .push ? nil : endpoint.topic)
        self.poller = ZMQPoller(capacity: 1)
        _ = poller.register(socket, for: .pollOut)
    }

    func publish(_ batch: FeatureBatch, _ info: PublishedBatch) -> Bool {
        // The header is written straight from `info`: a warm sink allocates nothing per batch.
        let outcome: SendOutcome = encoder.encode(batch, info) { frames in send(frames) }
        switch outcome {
        case .sent:
            control?.published(
                mode: info.outcome.mode, statsVersion: info.statsVersion, process: info.processDuration,
                latency: .now - info.completedAt)
            return true
        case .refused(let why):
            if let suppressed = dropLog.admit() {
                logger.warning(
                    "batch dropped: \(why)",
                    metadata: [
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

    /// At most how many published batches a close that did not drain may have lost, per connected
    /// consumer (see `RecentSends`): `highWaterMark` messages queued, the engine buffer, and for
    /// `ipc://` the socket's kernel send buffer (`net.core.wmem_default`, 208 KiB by default).
    func unconfirmedAtClose(highWaterMark: Int) -> Int {
        var buffered = Self.engineBufferBytes
        if endpoint.endpoint.hasPrefix("ipc://") {
            let text = (try? String(contentsOfFile: "/proc/sys/net/core/wmem_default", encoding: .utf8)) ?? ""
            buffered += Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 4 << 20
        }
        return recent.unconfirmed(queuedMessages: highWaterMark > 0 ? highWaterMark : recent.recorded, bufferedBytes: buffered)
    }

    /// When the output's shutdown budget ends: `shutdown_timeout` after the stop.
    var shutdownDeadline: ContinuousClock.Instant {
        (stopFlag.stoppedAt ?? .now) + endpoint.shutdownTimeout
    }

    private func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> SendOutcome {
        while true {
            do {
                // libzmq queues a multipart message whole or not at all: only the first frame can
                // meet the high-water mark, the rest follow.
                if try socket.send(frames[0], flags: frames.count > 1 ? [.dontWait, .sendMore] : .dontWait) {
                    var bytes = frames[0].count
                    for index in 1..<frames.count {
                        _ = try socket.send(frames[index], flags: index < frames.count - 1 ? .sendMore : [])
                        bytes += frames[index].count
                    }
                    recent.record(bytes: bytes)
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
                var wait = Duration.milliseconds(100)
                if stopFlag.isSet {
                    if stopFlag.outputAbandoned {
                        return .refused("a second stop signal ended the wait for a consumer")
                    }
                    let left = shutdownDeadline - .now
                    if left <= .zero {
                        return .refused("no consumer took the batch within shutdown_timeout of the stop")
                    }
                    wait = min(wait, left)
                }
                let blockedSince = ContinuousClock.now
                control?.turned() // waiting on a consumer is alive, not stuck
                _ = try? poller.poll(timeoutMilliseconds: wait.roundedUpMilliseconds)
                let (seconds, attoseconds) = (ContinuousClock.now - blockedSince).components
                control?.outputBlockedNanos.add(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
            }
        }
    }
}
