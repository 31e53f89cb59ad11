import NpyFormat

extension MessageDecoder {
    /// `[header JSON][payload]`: the header's shape and dtype must describe the payload exactly.
    ///
    /// A header equal to the previous one but for its `seq` digits skips the JSON scan
    /// (`TensorHeaderCache`); the payload is checked against it all the same.
    mutating func decodeTensor(header frame: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) throws(WireError) -> DecodedMessage {
        if case .hit(let seq) = headerCache.lookup(frame) {
            // The cached header's fields are read one by one: binding the whole `TensorHeader?` copied
            // it (~100 bytes, at an odd stack offset) per message.
            let rows = headerCache.rows, elementType = headerCache.elementType
            try checkPayload(rows: rows, elementType: elementType, got: payload.count, shape: headerCache.shape)
            return DecodedMessage(
                rows: rows, features: features, elementType: elementType, payload: payload, seq: seq, producer: headerCache.producer)
        }
        var scanner = JSONScanner(frame)
        let header = try TensorHeader.parse(&scanner)
        // Width before size: "rows have 7 features" says more than a byte count.
        guard header.columns == features else { throw .widthMismatch(expected: features, got: header.columns) }
        try checkPayload(rows: header.rows, elementType: header.elementType, got: payload.count, shape: header.shape)
        let producer = try header.producer.map { token throws(WireError) in try producers.producer(token, in: scanner) }
        headerCache.store(frame, header, producer: producer)
        return DecodedMessage(
            rows: header.rows, features: features, elementType: header.elementType,
            payload: payload, seq: header.seq, producer: producer)
    }
}
