public import NpyFormat

/// Why a ZeroMQ message could not be read as rows of feature vectors.
///
/// `description` is the whole message for the log (it names the bad value and what was expected);
/// `reason` is a short stable label for the rejected-messages counter.
public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message has neither the codec's frame count nor one more (a leading topic frame).
    case frameCount(expected: Int, got: Int)
    /// The tensor header frame is not a JSON object with usable `dtype`/`shape`/`seq`/`producer`.
    case malformedHeader(String)
    /// A dtype other than little-endian float32/float64.
    case unsupportedDType(String)
    /// A shape that is not `[rows, features]` or `[features]`.
    case badShape(String)
    /// Rows whose width is not the pipeline's feature count.
    case widthMismatch(expected: Int, got: Int)
    /// A payload whose byte count does not match the header's shape and dtype.
    case payloadSize(expected: Int, got: Int, shape: [Int], elementType: NpyElementType)
    /// A `.npy` frame that `NpyHeader` rejected.
    case npy(NpyError)
    /// A JSON-codec frame that is not valid JSON or not an array of numbers / rows / `{"data": …}`.
    case malformedJSON(String)
    /// A JSON-codec message with an empty array where a row was expected.
    case emptyRow
    /// A `producer` longer than the limit (UTF-8 bytes); `excerpt` is its first bytes, escaped.
    case producerTooLong(bytes: Int, limit: Int, excerpt: String)

    public var description: String {
        switch self {
        case .frameCount(let expected, let got):
            "message has \(got) frame\(got == 1 ? "" : "s"), expected \(expected) (or \(expected + 1) with a leading topic frame)"
        case .malformedHeader(let detail):
            "malformed header: \(detail)"
        case .unsupportedDType(let dtype) where dtype.hasPrefix(">"):
            "dtype \"\(dtype)\" is big-endian; send little-endian \"<f4\" or \"<f8\" (a.astype(\"<f4\"))"
        case .unsupportedDType(let dtype):
            "dtype \"\(dtype)\" is not supported; send float32 (\"<f4\") or float64 (\"<f8\")"
        case .badShape(let detail):
            "bad shape: \(detail)"
        case .widthMismatch(let expected, let got):
            "rows have \(got) feature\(got == 1 ? "" : "s"), the pipeline expects \(expected)"
        case .payloadSize(let expected, let got, let shape, let elementType):
            "payload is \(got) bytes, header shape \(Self.shapeText(shape)) of \(elementType.rawValue) needs \(expected)"
        case .npy(let error):
            ".npy frame: \(error)"
        case .malformedJSON(let detail):
            "malformed JSON: \(detail)"
        case .emptyRow:
            "JSON message has an empty row; send a row [x, …] or rows [[x, …], …]"
        case .producerTooLong(let bytes, let limit, let excerpt):
            "producer name is \(bytes) bytes, longer than the limit of \(limit): \"\(excerpt)\""
        }
    }

    /// A short, stable label for metrics (`rejected_messages_total{reason="…"}`).
    public var reason: String {
        switch self {
        case .frameCount: "frame_count"
        case .malformedHeader: "malformed_header"
        case .unsupportedDType: "dtype"
        case .badShape: "shape"
        case .widthMismatch: "wrong_width"
        case .payloadSize: "payload_size"
        case .npy: "npy"
        case .malformedJSON, .emptyRow: "json"
        case .producerTooLong: "producer_too_long"
        }
    }

    /// `[2, 8]`, as the header wrote it.
    static func shapeText(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}
