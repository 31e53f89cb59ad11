import NpyFormat

/// Turns the frames of one ZeroMQ message into rows, for one input with a fixed feature count.
///
/// Create one per input and reuse it: it keeps the last producer String and (for the JSON codec) a
/// Float32 scratch buffer, so a warm decoder allocates nothing per tensor message.
///
/// Frame rule: a codec needs ``InputCodec/frameCount`` frames; exactly one extra leading frame is a
/// topic (PUB/SUB) and is returned for logging; any other count is ``WireError/frameCount(expected:got:)``.
public struct MessageDecoder: Sendable {
    public let codec: InputCodec
    /// The pipeline's row width; rows of any other width are rejected.
    public let features: Int
    var producers = ProducerCache()
    /// The previous tensor header, so the next one is recognised by a byte comparison.
    var headerCache = TensorHeaderCache()
    /// Longest `producer` name accepted, in UTF-8 bytes: names are kept (gap tracking, `sources`
    /// of every output header), so a peer must not choose their size.
    public static let maxProducerBytes = 256
    var scratch = FloatScratch()

    public init(codec: InputCodec = .tensor, features: Int) {
        precondition(features > 0, "a pipeline needs at least one feature")
        self.codec = codec
        self.features = features
    }

    /// Decodes one message.
    /// - Parameter frames: the message's frames, in order; the transport owns their bytes.
    /// - Returns: rows that point into `frames` (or this decoder's scratch): valid until the next
    ///   `decode` and while the frames are alive.
    public mutating func decode(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) throws(WireError) -> DecodedMessage {
        let needed = codec.frameCount
        let first: Int
        switch frames.count {
        case needed: first = 0
        case needed + 1: first = 1
        default: throw .frameCount(expected: needed, got: frames.count)
        }
        var message =
            switch codec {
            case .tensor: try decodeTensor(header: frames[first], payload: frames[first + 1])
            case .npy: try decodeNpy(frames[first])
            case .json: try decodeJSON(frames[first])
            }
        message.topic = first == 1 ? frames[0] : nil
        return message
    }

    /// Checks `expected` payload bytes (rows × features × item size, overflow-safe) against `got`.
    func checkPayload(rows: Int, elementType: NpyElementType, got: Int, shape: @autoclosure () -> [Int]) throws(WireError) {
        let (elements, overflow1) = rows.multipliedReportingOverflow(by: features)
        let (expected, overflow2) = elements.multipliedReportingOverflow(by: elementType.byteCount)
        guard !overflow1, !overflow2, expected == got else {
            throw .payloadSize(expected: overflow1 || overflow2 ? Int.max : expected, got: got, shape: shape(), elementType: elementType)
        }
    }
}
