import NpyFormat

extension MessageDecoder {
    /// `[header JSON][payload]`: the header's shape and dtype must describe the payload exactly.
    mutating func decodeTensor(header frame: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) throws(WireError) -> DecodedMessage {
        var scanner = JSONScanner(frame)
        let header = try TensorHeader.parse(&scanner)
        // Width before size: "rows have 7 features" says more than a byte count.
        guard header.columns == features else { throw .widthMismatch(expected: features, got: header.columns) }
        try checkPayload(rows: header.rows, elementType: header.elementType, got: payload.count, shape: header.shape)
        let producer = try header.producer.map { token throws(WireError) in try producers.producer(token, in: scanner) }
        return DecodedMessage(rows: header.rows, features: features, elementType: header.elementType,
                              payload: payload, seq: header.seq, producer: producer)
    }
}
