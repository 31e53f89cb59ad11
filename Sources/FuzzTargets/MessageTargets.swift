import NpyFormat
import WireFormat

/// Decodes one message of the `tensor` codec.
///
/// Input layout (all message targets): byte 0 chooses the decoder's row width and the framing —
/// bits 0–3 are `features − 1` (1…16), bit 4 adds a leading topic frame, bit 5 a trailing empty
/// frame (a frame-count refusal). For `tensor`, bytes 1–2 are the header frame's length
/// (little-endian, cut to what is left); the header follows, the payload is the rest.
/// `Scripts/fuzz-seeds.py` writes seeds in this layout.
@discardableResult
public func fuzzTensor(_ data: UnsafeRawBufferPointer) -> Bool {
    guard let prefix = MessagePrefix(data) else { return false }
    var rest = prefix.rest
    guard rest.count >= 2 else { return false }
    let headerLength = min(Int(rest[rest.startIndex]) | Int(rest[rest.startIndex + 1]) << 8, rest.count - 2)
    rest = rest.dropFirst(2)
    let header = rest.prefix(headerLength)
    return decodeMessage(.tensor, prefix, [header, rest.dropFirst(headerLength)])
}

/// Decodes one message of the `npy` codec: the bytes after the prefix byte are the frame.
@discardableResult
public func fuzzNpyMessage(_ data: UnsafeRawBufferPointer) -> Bool {
    guard let prefix = MessagePrefix(data) else { return false }
    return decodeMessage(.npy, prefix, [prefix.rest])
}

/// Decodes one message of the `json` codec: the bytes after the prefix byte are the frame.
@discardableResult
public func fuzzJSONMessage(_ data: UnsafeRawBufferPointer) -> Bool {
    guard let prefix = MessagePrefix(data) else { return false }
    return decodeMessage(.json, prefix, [prefix.rest])
}

/// Byte 0 of a message target's input.
struct MessagePrefix {
    var features: Int
    var topic: Bool
    var extraFrame: Bool
    var rest: Slice<UnsafeRawBufferPointer>

    init?(_ data: UnsafeRawBufferPointer) {
        guard let first = data.first else { return nil }
        features = Int(first & 0x0F) + 1
        topic = first & 0x10 != 0
        extraFrame = first & 0x20 != 0
        rest = data.dropFirst()
    }
}

/// Decodes the frames twice with one decoder (as the daemon reuses one per input, with its producer
/// cache and JSON scratch), checking what an accepted message promises.
///
/// Every frame is copied into its own allocation of exactly its size, so AddressSanitizer sees a
/// read past a frame's end (as a frame of a real ZeroMQ message would end).
private func decodeMessage(_ codec: InputCodec, _ prefix: MessagePrefix, _ bodies: [Slice<UnsafeRawBufferPointer>]) -> Bool {
    let target: FuzzTarget =
        switch codec {
        case .tensor: .tensor
        case .npy: .npy
        case .json: .json
        }
    var frames = prefix.topic ? [Frame("features.fuzz".utf8)] : []
    frames += bodies.map { Frame($0) }
    if prefix.extraFrame { frames.append(Frame(EmptyCollection<UInt8>())) }
    defer { frames.forEach { $0.deallocate() } }

    var decoder = MessageDecoder(codec: codec, features: prefix.features)
    let views = frames.map(\.bytes)
    return views.withUnsafeBufferPointer { views in
        var first: (rows: Int, seq: UInt64?, producer: String?, values: [UInt32])?
        for _ in 0..<2 {
            do throws(WireError) {
                let message = try decoder.decode(views)
                let values = checkAccepted(message, target: target, features: prefix.features)
                if let first {
                    guard first.rows == message.rows, first.seq == message.seq, first.producer == message.producer,
                        first.values == values
                    else { violated(target, "decoding the same frames twice gave different messages") }
                } else {
                    first = (message.rows, message.seq, message.producer, values)
                }
            } catch {
                guard first == nil else { violated(target, "the second decode refused what the first accepted: \(error)") }
                guard !error.reason.isEmpty, !error.description.isEmpty else { violated(target, "a refusal without a reason or message") }
            }
        }
        return first != nil
    }
}

/// Checks an accepted message's shape and reads every value the way the pipeline does; returns the
/// rows' Float32 bit patterns (bit patterns so NaN compares equal to itself).
private func checkAccepted(_ message: DecodedMessage, target: FuzzTarget, features: Int) -> [UInt32] {
    guard message.features == features, message.rows >= 0,
        message.payload.count == message.rows * features * message.elementType.byteCount
    else { violated(target, "accepted \(message.rows)×\(message.features) rows in \(message.payload.count) bytes") }
    let values = [Float](unsafeUninitializedCapacity: message.rows * features) { buffer, count in
        message.copyRows(0..<message.rows, into: buffer)
        count = message.rows * features
    }
    let nonFinite = message.firstNonFinite()
    let firstBad = values.firstIndex { !$0.isFinite }
    guard nonFinite.map({ $0.row * features + $0.column }) == firstBad else {
        violated(target, "firstNonFinite() is \(String(describing: nonFinite)), the copied rows say index \(String(describing: firstBad))")
    }
    for row in 0..<message.rows where message.isRowFinite(row) != values[(row * features)..<((row + 1) * features)].allSatisfy(\.isFinite) {
        violated(target, "isRowFinite(\(row)) disagrees with the copied row")
    }
    _ = message.topicText
    return values.map(\.bitPattern)
}

/// One frame in its own exactly-sized allocation.
private struct Frame {
    let bytes: UnsafeRawBufferPointer

    init<Bytes: Collection<UInt8>>(_ source: Bytes) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: source.count, alignment: 1)
        storage.copyBytes(from: source)
        bytes = UnsafeRawBufferPointer(storage)
    }

    func deallocate() { bytes.deallocate() }
}
