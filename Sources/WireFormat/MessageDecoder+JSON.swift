import NpyFormat

extension MessageDecoder {
    /// One JSON frame: `[x, …]` (one row), `[[x, …], …]` (rows), or `{"data": either, "seq": n, "producer": "p"}`.
    ///
    /// Numbers are read as Double and rounded to Float32 into the decoder's scratch buffer, which the
    /// returned payload points into. `NaN`/`Infinity` (what Python's `json.dumps` writes) are accepted
    /// so the pipeline's non-finite policy, not a syntax error, decides about such rows.
    /// This codec is a convenience: it is slower than tensor and may allocate.
    mutating func decodeJSON(_ frame: UnsafeRawBufferPointer) throws(WireError) -> DecodedMessage {
        if !isKnownUniquelyReferenced(&scratch) { scratch = FloatScratch() }
        scratch.removeAll()
        var scanner = JSONScanner(frame)
        do {
            return try readMessage(&scanner)
        } catch let error as JSONSyntaxError {
            throw .malformedJSON("\(error.message) in \(ByteExcerpt.text(frame))")
        } catch let error as WireError {
            throw error
        } catch {
            fatalError("unreachable: \(error)")
        }
    }

    private mutating func readMessage(_ scanner: inout JSONScanner) throws -> DecodedMessage {
        var rows = 0
        var seq: UInt64?
        var producer: String?
        switch scanner.peek() {
        case 0x5B:
            rows = try readRows(&scanner)
        case 0x7B:
            try scanner.expect(0x7B, "expected '{'")
            var sawData = false
            if !scanner.consume(0x7D) {
                repeat {
                    let key = try scanner.scanString()
                    try scanner.expect(0x3A, "expected ':' after an object key")
                    if scanner.matches(key, "data") {
                        scratch.removeAll() // a repeated key: the last one wins, as in json.loads
                        rows = try readRows(&scanner)
                        sawData = true
                    } else if scanner.matches(key, "seq") {
                        seq = try scanner.scanSequenceNumber()
                    } else if scanner.matches(key, "producer") {
                        producer = try scanner.literal("null") ? nil : producers.producer(scanner.scanString(), in: scanner)
                    } else {
                        try scanner.skipValue()
                    }
                } while try scanner.separator(close: 0x7D)
            }
            guard sawData else { throw WireError.malformedJSON("object has no \"data\" key in \(ByteExcerpt.text(scanner.bytes))") }
        default:
            throw scanner.error("expected an array of numbers, an array of rows, or an object with \"data\"")
        }
        try scanner.expectEnd()
        return DecodedMessage(
            rows: rows, features: features, elementType: .float32, payload: scratch.bytes,
            seq: seq, producer: producer)
    }

    /// `[x, …]` → 1 row, `[[x, …], …]` → that many rows; every row must be `features` wide.
    private func readRows(_ scanner: inout JSONScanner) throws -> Int {
        guard scanner.peek() == 0x5B else { throw scanner.error("expected an array") }
        let opening = scanner.position
        try scanner.expect(0x5B, "expected '['")
        guard scanner.peek() == 0x5B else {
            try readRow(&scanner, start: opening)
            return 1
        }
        var rows = 0
        repeat {
            let start = scanner.position
            try scanner.expect(0x5B, "expected '[' to start a row")
            try readRow(&scanner, start: start)
            rows += 1
        } while try scanner.separator(close: 0x5D)
        return rows
    }

    /// The numbers of one row whose `[` is consumed, appended to the scratch.
    private func readRow(_ scanner: inout JSONScanner, start: Int) throws {
        var count = 0
        if !scanner.consume(0x5D) {
            repeat {
                scratch.append(Float(try scanner.scanDouble()))
                count += 1
            } while try scanner.separator(close: 0x5D)
        }
        guard count > 0 else { throw WireError.emptyRow }
        guard count == features else { throw WireError.widthMismatch(expected: features, got: count) }
    }
}
