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
///
/// The tensor codec's payload frame is not copied: the batch's storage is swapped into a buffer of
/// `payloadBuffers` and lent to libzmq (`zmq_msg_init_data`), whose free callback checks the buffer
/// back in once the frame is written out or dropped; the engine gets that buffer's previous storage
/// to fill next. When every buffer is lent (a slow consumer with a deep queue), the payload is
/// copied as before (`zmq_send`). The header frames are small and always copied.
final class ZMQBatchSink: BatchSink {
    private let socket: ZMQSocket
    private let endpoint: OutputEndpoint
    private let stopFlag: StopFlag
    private let logger: Logger
    private var encoder: BatchEncoder
    private let poller: ZMQPoller
    /// Where tensor payloads wait while libzmq sends them (bounded: see `PayloadBufferPool`).
    let payloadBuffers: PayloadBufferPool
    /// The payload frame, reused batch after batch (sending leaves it empty).
    private let payloadFrame = ZMQMessage()
    private var dropLog = RateLimitedLog(perInterval: 10, interval: .seconds(10))
    private var recent = RecentSends()
    /// Per-batch meters and histograms for the admin server.
    private let control: PipelineControl?
    /// libzmq's engine buffer per connection (`ZMQ_OUT_BATCH_SIZE`, 8 KiB in libzmq 4.3).
    static let engineBufferBytes = 8192

    init(
        socket: ZMQSocket, endpoint: OutputEndpoint, stopFlag: StopFlag, logger: Logger, control: PipelineControl? = nil,
        payloadBuffers: PayloadBufferPool = PayloadBufferPool()
    ) {
        self.socket = socket
        self.payloadBuffers = payloadBuffers
        self.control = control
        self.endpoint = endpoint
        self.stopFlag = stopFlag
        self.logger = logger
        self.encoder = BatchEncoder(codec: endpoint.codec, topic: endpoint.socket == .push ? nil : endpoint.topic)
        self.poller = ZMQPoller(capacity: 1)
        _ = poller.register(socket, for: .pollOut)
    }

    func publish(_ batch: inout FeatureBatch, _ info: PublishedBatch) -> Bool {
        let rows = batch.rows
        // The header is written straight from `info`: a warm sink allocates nothing per batch.
        let outcome: SendOutcome
        if encoder.codec == .tensor {
            outcome = encoder.encodeTensorLeadingFrames(rows: rows, features: batch.features, info) { frames in
                send(frames, payloadFollows: true) { try sendPayload(of: &batch) }
            }
        } else {
            outcome = encoder.encode(batch, info) { frames in send(frames, payloadFollows: false) { 0 } }
        }
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
                        "batch": "\(info.sequence)", "rows": "\(rows)", "endpoint": "\(endpoint.endpoint)",
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

    /// Sends the tensor payload, the last frame, from `batch`'s storage without a copy when a buffer
    /// is free (the batch is swapped into it and `batch` gets its previous storage), else a copy.
    /// Returns the frame's size. Called once the message's first frame was accepted: libzmq then
    /// takes the rest without waiting.
    private func sendPayload(of batch: inout FeatureBatch) throws -> Int {
        let size = batch.rows * batch.features * MemoryLayout<Float>.size
        if let buffer = payloadBuffers.checkOut(like: batch) {
            swap(&batch, &buffer.batch)
            do {
                try buffer.withPayloadBytes { try payloadFrame.reset(borrowing: $0, owner: buffer) }
            } catch {
                // libzmq could not even allocate its reference count: nothing was lent.
                swap(&batch, &buffer.batch)
                payloadBuffers.checkIn(buffer)
                return try copyPayload(of: batch)
            }
            // From here libzmq owns the loan: the buffer comes back through its free callback,
            // also when this send fails (the message is emptied below, which ends the loan).
            do {
                if try !socket.send(payloadFrame, flags: []) { try? payloadFrame.reset(size: 0) }
            } catch {
                try? payloadFrame.reset(size: 0)
                throw error
            }
            return size
        }
        return try copyPayload(of: batch)
    }

    private func copyPayload(of batch: FeatureBatch) throws -> Int {
        try batch.withUnsafeValues { values in _ = try socket.send(UnsafeRawBufferPointer(values), flags: []) }
        return batch.rows * batch.features * MemoryLayout<Float>.size
    }

    /// Sends `frames` as a message, waiting for the first frame to be accepted as the socket kind
    /// says (see the type's comment); with `payloadFollows`, `sendPayloadFrame` then sends one
    /// more, last, frame and returns its size.
    private func send(
        _ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>, payloadFollows: Bool, _ sendPayloadFrame: () throws -> Int
    ) -> SendOutcome {
        while true {
            do {
                // libzmq queues a multipart message whole or not at all: only the first frame can
                // meet the high-water mark, the rest follow.
                let more = frames.count > 1 || payloadFollows
                if try socket.send(frames[0], flags: more ? [.dontWait, .sendMore] : .dontWait) {
                    var bytes = frames[0].count
                    for index in 1..<frames.count {
                        let more = index < frames.count - 1 || payloadFollows
                        _ = try socket.send(frames[index], flags: more ? .sendMore : [])
                        bytes += frames[index].count
                    }
                    if payloadFollows { bytes += try sendPayloadFrame() }
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
