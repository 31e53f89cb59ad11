import NpyFormat

extension MessageDecoder {
    /// One `.npy` frame: a C-order `(rows, features)` or `(features,)` `<f4`/`<f8` array.
    /// The data must end the frame exactly (trailing bytes mean a framing mistake). There is no
    /// seq or producer in a `.npy` header.
    func decodeNpy(_ frame: UnsafeRawBufferPointer) throws(WireError) -> DecodedMessage {
        let header: NpyHeader
        do throws(NpyError) {
            header = try NpyHeader.parse(frame)
        } catch {
            throw .npy(Self.bounded(error))
        }
        guard !header.fortranOrder else { throw .npy(.fortranOrder) }
        let rows: Int, columns: Int
        switch header.shape.count {
        case 1: (rows, columns) = (1, header.shape[0])
        case 2: (rows, columns) = (header.shape[0], header.shape[1])
        default:
            throw .badShape(
                ".npy shape \(WireError.shapeText(header.shape)) has \(header.shape.count) dimensions; save (rows, features) or (features,)")
        }
        guard columns == features else { throw .widthMismatch(expected: features, got: columns) }
        let data = UnsafeRawBufferPointer(rebasing: frame[header.dataOffset...])
        try checkPayload(rows: rows, elementType: header.elementType, got: data.count, shape: header.shape)
        return DecodedMessage(rows: rows, features: features, elementType: header.elementType, payload: data)
    }

    /// The error with any text taken from the frame cut to an excerpt (``ByteExcerpt``): a header
    /// of a version-2 `.npy` may be as long as the whole message.
    static func bounded(_ error: NpyError) -> NpyError {
        switch error {
        case .malformedHeader(let text): .malformedHeader(ByteExcerpt.text(text))
        case .unsupportedElementType(let descr): .unsupportedElementType(ByteExcerpt.text(descr))
        default: error
        }
    }
}
