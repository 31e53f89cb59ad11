public import NormCore
import NpyFormat
public import Pipeline
import StageKit

/// Encodes normalized batches into the frames normd publishes.
///
/// Keep one per output: it reuses its byte buffers, so once warm an encoder does not allocate per
/// batch (the JSON codec's number formatting aside). The tensor payload frame is the batch's own
/// storage, never a copy.
///
/// Frames, in order: `[topic]` when a topic is configured (PUB/XPUB), then
/// - tensor: `[header JSON][raw <f4 payload]`,
/// - npy: `[.npy file]` (the header fields are not sent),
/// - json: `[header JSON with "data": [[…], …]]`.
public struct BatchEncoder: Sendable {
    public let codec: OutputCodec
    /// The topic frame's bytes; nil sends no topic frame, `""` sends an empty one.
    public let topic: [UInt8]?
    private var text: [UInt8] = []
    private var npyFrame: [UInt8] = []
    private var npyHeader: [UInt8] = []
    private var npyHeaderShape = (rows: -1, features: -1)
    /// Writes the `sources` entries (one per input message in the batch) with its own reused buffer.
    private var sources = SourcesListWriter()
    /// The pipeline's name and the stage kinds as JSON strings, escaped once: they change only on a
    /// reload, and escaping them per batch (a scan of every name, then the copy) was ~1/3 of the
    /// header's cost at 16 features × 64-row messages.
    private var names = EscapedNames()

    private struct EscapedNames: Sendable {
        var pipeline: String?
        var pipelineJSON: [UInt8] = []
        var stageKinds: [String]?
        /// `"min_max","batch_norm",…` without the brackets.
        var stageKindsJSON: [UInt8] = []

        mutating func update(pipeline name: String, stageKinds kinds: [String]) {
            if name != pipeline {
                pipelineJSON.removeAll(keepingCapacity: true)
                pipelineJSON.appendJSONString(name)
                pipeline = name
            }
            if kinds != stageKinds {
                stageKindsJSON.removeAll(keepingCapacity: true)
                for index in kinds.indices {
                    if index > 0 { stageKindsJSON.append(0x2C) }
                    stageKindsJSON.appendJSONString(kinds[index])
                }
                stageKinds = kinds
            }
        }
    }

    public init(codec: OutputCodec = .tensor, topic: String? = nil) {
        self.codec = codec
        self.topic = topic.map { Array($0.utf8) }
        text.reserveCapacity(1024)
    }

    /// Encodes `batch` with the header `info` describes and calls `body` with its frames, which are
    /// valid only inside `body` (send them there; ZeroMQ copies on `zmq_send`). `info` is read in
    /// place: the pipeline's own description of the batch is the header, with no per-batch copy.
    public mutating func encode<Result>(
        _ batch: FeatureBatch, _ info: PublishedBatch,
        _ body: (UnsafeBufferPointer<UnsafeRawBufferPointer>) throws -> Result
    ) rethrows -> Result {
        switch codec {
        case .tensor:
            writeTensorHeader(rows: batch.rows, features: batch.features, info)
            return try text.withUnsafeBytes { header in
                try batch.withUnsafeValues { values in
                    try withFrames(header, UnsafeRawBufferPointer(values), body)
                }
            }
        case .npy:
            if npyHeaderShape != (batch.rows, batch.features) {
                npyHeader = NpyHeader.encode(shape: [batch.rows, batch.features])
                npyHeaderShape = (batch.rows, batch.features)
            }
            npyFrame.removeAll(keepingCapacity: true)
            npyFrame.append(contentsOf: npyHeader)
            batch.withUnsafeValues { npyFrame.append(contentsOf: UnsafeRawBufferPointer($0)) }
            return try npyFrame.withUnsafeBytes { try withFrames($0, nil, body) }
        case .json:
            text.removeAll(keepingCapacity: true)
            writeHeader(rows: batch.rows, features: batch.features, info)
            writeData(batch)
            text.append(0x7D)
            return try text.withUnsafeBytes { try withFrames($0, nil, body) }
        }
    }

    /// The tensor codec's frames before the payload, `[topic?, header JSON]`, for a caller that sends
    /// the payload frame itself (normd lends the batch's storage to libzmq instead of copying it):
    /// followed by the batch's `rows × features` values as raw `<f4` bytes, they are exactly the
    /// frames `encode` gives. Valid only inside `body`.
    public mutating func encodeTensorLeadingFrames<Result>(
        rows: Int, features: Int, _ info: PublishedBatch,
        _ body: (UnsafeBufferPointer<UnsafeRawBufferPointer>) throws -> Result
    ) rethrows -> Result {
        precondition(codec == .tensor, "only the tensor codec sends its payload as a frame of its own")
        writeTensorHeader(rows: rows, features: features, info)
        return try text.withUnsafeBytes { header in try withFrames(header, nil, body) }
    }

    /// The tensor codec's header frame, whole, in `text`.
    private mutating func writeTensorHeader(rows: Int, features: Int, _ info: PublishedBatch) {
        text.removeAll(keepingCapacity: true)
        writeHeader(rows: rows, features: features, info)
        text.append(0x7D)
    }

    /// Calls `body` with `[topic?, first, second?]` as a stack-allocated frame list.
    private func withFrames<Result>(
        _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer?,
        _ body: (UnsafeBufferPointer<UnsafeRawBufferPointer>) throws -> Result
    ) rethrows -> Result {
        try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: 3) { frames in
            try (topic ?? []).withUnsafeBytes { topicBytes in
                // No local helper function here: one capturing `count` would box it on the heap.
                var count = 0
                if topic != nil {
                    frames.initializeElement(at: count, to: topicBytes)
                    count += 1
                }
                frames.initializeElement(at: count, to: first)
                count += 1
                if let second {
                    frames.initializeElement(at: count, to: second)
                    count += 1
                }
                return try body(UnsafeBufferPointer(rebasing: frames[..<count]))
            }
        }
    }

    /// `{"dtype":"<f4","shape":[r,c],"pipeline":…,"batch":…,"mode":…,"stages":[…],"stats_version":…,
    /// "sources":[…]` and `"downgraded"` when set — without the closing brace.
    private mutating func writeHeader(rows: Int, features: Int, _ info: PublishedBatch) {
        text.appendRaw("{\"dtype\":\"<f4\",\"shape\":[")
        text.appendDecimal(rows)
        text.append(0x2C)
        text.appendDecimal(features)
        names.update(pipeline: info.pipeline, stageKinds: info.stageKinds)
        text.appendRaw("],\"pipeline\":")
        text.append(contentsOf: names.pipelineJSON)
        text.appendRaw(",\"batch\":")
        text.appendDecimal(info.sequence)
        text.appendRaw(",\"mode\":")
        text.appendRaw(info.outcome.mode == .train ? "\"train\"" : "\"infer\"")
        text.appendRaw(",\"stages\":[")
        text.append(contentsOf: names.stageKindsJSON)
        text.appendRaw("],\"stats_version\":")
        text.appendDecimal(info.statsVersion)
        text.appendRaw(",\"sources\":[")
        sources.append(info.origins, to: &text)
        text.append(0x5D)
        if let downgrade = info.outcome.downgrade {
            text.appendRaw(",\"downgraded\":")
            text.appendJSONString(downgrade.description)
        }
        if let sync = info.sync {
            text.appendRaw(",\"sync\":{\"step\":")
            text.appendDecimal(sync.step)
            text.appendRaw(",\"members\":[")
            for index in sync.members.indices {
                if index > 0 { text.append(0x2C) }
                text.appendDecimal(UInt64(sync.members[index]))
            }
            text.appendRaw("]}")
        }
    }

    /// `,"data":[[…],…]`.
    private mutating func writeData(_ batch: FeatureBatch) {
        text.appendRaw(",\"data\":[")
        batch.withUnsafeValues { values in
            for row in 0..<batch.rows {
                if row > 0 { text.append(0x2C) }
                text.append(0x5B)
                for column in 0..<batch.features {
                    if column > 0 { text.append(0x2C) }
                    text.appendFloat(values[row * batch.features + column])
                }
                text.append(0x5D)
            }
        }
        text.append(0x5D)
    }
}
