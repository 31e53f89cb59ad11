import NpyFormat

/// The header frame of a tensor message: `{"dtype": "float32", "shape": [4, 128], "seq": 17, "producer": "cam-1"}`.
///
/// Parsed without allocating: keys are compared as raw bytes, integers are read in place and the
/// producer is returned as a token so ``ProducerCache`` can reuse the previous message's String.
/// Unknown keys are skipped (forward compatible); a repeated key takes its last value, as
/// Python's `json.loads` does.
struct TensorHeader {
    var elementType: NpyElementType
    /// Rows; 1 for a one-dimensional shape `[features]`.
    var rows: Int
    var columns: Int
    /// Whether the shape had one dimension (reported back in error messages as sent).
    var isOneDimensional: Bool
    var seq: UInt64?
    /// The producer string token, nil when absent or `null`.
    var producer: JSONScanner.StringToken?
    /// Where the (last) `seq` value's digits are in the header bytes; nil without a numeric `seq`.
    /// `TensorHeaderCache` re-reads only these when the rest of the next header is the same.
    var seqDigits: Range<Int>?

    /// The shape as the header wrote it.
    var shape: [Int] { isOneDimensional ? [columns] : [rows, columns] }

    /// Parses a header frame. The scanner is returned through `scanner` so the caller can decode the producer.
    static func parse(_ scanner: inout JSONScanner) throws(WireError) -> TensorHeader {
        do {
            return try parseFields(&scanner)
        } catch let error as JSONSyntaxError {
            throw .malformedHeader("\(error.message) in \(ByteExcerpt.text(scanner.bytes))")
        } catch let error as WireError {
            throw error
        } catch {
            fatalError("unreachable: \(error)")
        }
    }

    private static func parseFields(_ scanner: inout JSONScanner) throws -> TensorHeader {
        var elementType: NpyElementType?
        var shape: (rows: Int, columns: Int, isOneDimensional: Bool)?
        var seq: UInt64?
        var producer: JSONScanner.StringToken?
        var seqDigits: Range<Int>?
        try scanner.expect(0x7B, "expected a JSON object '{'")
        if !scanner.consume(0x7D) {
            repeat {
                let key = try scanner.scanString()
                try scanner.expect(0x3A, "expected ':' after an object key")
                if scanner.matches(key, "dtype") {
                    elementType = try parseDType(&scanner)
                } else if scanner.matches(key, "shape") {
                    shape = try parseShape(&scanner)
                } else if scanner.matches(key, "seq") {
                    _ = scanner.peek()
                    let start = scanner.position
                    seq = try scanner.scanSequenceNumber()
                    seqDigits = seq == nil ? nil : start..<scanner.position
                } else if scanner.matches(key, "producer") {
                    producer = scanner.literal("null") ? nil : try scanner.scanString()
                } else {
                    try scanner.skipValue()
                }
            } while try scanner.separator(close: 0x7D)
        }
        try scanner.expectEnd()
        guard let elementType else { throw WireError.malformedHeader("no \"dtype\" key in \(ByteExcerpt.text(scanner.bytes))") }
        guard let shape else { throw WireError.malformedHeader("no \"shape\" key in \(ByteExcerpt.text(scanner.bytes))") }
        return TensorHeader(
            elementType: elementType, rows: shape.rows, columns: shape.columns,
            isOneDimensional: shape.isOneDimensional, seq: seq, producer: producer, seqDigits: seqDigits)
    }

    /// NumPy typestrs and names of little-endian float32/float64. An unsupported one is reported as
    /// an excerpt of the bytes as sent (JSON escapes unresolved): a peer chooses its length.
    private static func parseDType(_ scanner: inout JSONScanner) throws -> NpyElementType {
        guard scanner.peek() == 0x22 else { throw scanner.error("expected \"dtype\" to be a string") }
        let token = try scanner.scanString()
        // Spelled out rather than looped over an array literal so the hot path builds no array.
        if scanner.matches(token, "<f4") || scanner.matches(token, "float32")
            || scanner.matches(token, "f4") || scanner.matches(token, "=f4")
        {
            return .float32
        }
        if scanner.matches(token, "<f8") || scanner.matches(token, "float64")
            || scanner.matches(token, "f8") || scanner.matches(token, "=f8")
        {
            return .float64
        }
        throw WireError.unsupportedDType(ByteExcerpt.text(scanner.rawBytes(token), empty: ""))
    }

    /// `[rows, columns]` or `[columns]` of non-negative integers.
    private static func parseShape(_ scanner: inout JSONScanner) throws -> (rows: Int, columns: Int, isOneDimensional: Bool) {
        let start = scanner.position
        guard scanner.peek() == 0x5B else { throw scanner.error("expected \"shape\" to be an array") }
        try scanner.expect(0x5B, "expected '['")
        var dimensions = (0, 0)
        var count = 0
        if !scanner.consume(0x5D) {
            repeat {
                let range = try scanner.scanNumber()
                guard let value = scanner.unsignedInteger(range), value <= UInt64(Int32.max) else {
                    let text = ByteExcerpt.text(UnsafeRawBufferPointer(rebasing: scanner.bytes[range]))
                    throw WireError.badShape("dimension \(text) is not a non-negative integer below 2^31")
                }
                switch count {
                case 0: dimensions.0 = Int(value)
                case 1: dimensions.1 = Int(value)
                default: break
                }
                count += 1
            } while try scanner.separator(close: 0x5D)
        }
        switch count {
        case 1: return (1, dimensions.0, true)
        case 2: return (dimensions.0, dimensions.1, false)
        default:
            var text = UnsafeRawBufferPointer(rebasing: scanner.bytes[start..<scanner.position])
            while text.first == 0x20 { text = UnsafeRawBufferPointer(rebasing: text.dropFirst()) }
            throw WireError.badShape("shape \(ByteExcerpt.text(text)) has \(count) dimensions; send [rows, features] or [features]")
        }
    }
}
