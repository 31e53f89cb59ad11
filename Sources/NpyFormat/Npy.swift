public import NormCore

/// Reads and writes batches in NumPy's `.npy` format (what `np.save` / `np.load` use), so files and
/// single-frame messages need no normd library on the Python side.
public enum Npy {
    /// How many dimensions the caller accepts.
    public enum Rank: Sendable {
        /// Only `(rows, features)`, as `normd apply` requires.
        case twoDimensional
        /// Also `(features,)`, read as one row — how a producer sends a single vector.
        case oneOrTwoDimensional
    }

    /// Decodes a C-order `<f4`/`<f8` array into a Float32 batch.
    /// - Parameter features: the expected row width, checked when given.
    public static func decode(_ bytes: UnsafeRawBufferPointer, rank: Rank = .twoDimensional, features: Int? = nil) throws(NpyError) -> FeatureBatch {
        let header = try NpyHeader.parse(bytes)
        // NumPy writes fortran_order True only for arrays that are not also C-contiguous.
        guard !header.fortranOrder else { throw .fortranOrder }
        let rows: Int, width: Int
        switch (header.shape.count, rank) {
        case (2, _): (rows, width) = (header.shape[0], header.shape[1])
        case (1, .oneOrTwoDimensional): (rows, width) = (1, header.shape[0])
        default: throw .unsupportedRank(shape: header.shape)
        }
        guard width > 0 else { throw .unsupportedRank(shape: header.shape) }
        if let features, features != width { throw .widthMismatch(expected: features, got: width) }
        // The header's shape is external input: (2^61, 8) must be refused, not multiplied.
        let dataBytes = bytes.count - header.dataOffset
        guard let elements = header.elementCount,
            case (let byteCount, false) = elements.multipliedReportingOverflow(by: header.elementType.byteCount),
            byteCount <= Int.max - header.dataOffset
        else { throw .shapeTooLarge(shape: header.shape, dataBytes: dataBytes) }
        guard dataBytes >= byteCount else {
            throw .truncated(expectedBytes: header.dataOffset + byteCount, actualBytes: bytes.count)
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[header.dataOffset..<(header.dataOffset + byteCount)])
        var batch = FeatureBatch(rows: rows, features: width)
        batch.withUnsafeMutableValues { values in
            switch header.elementType {
            case .float32:
                UnsafeMutableRawBufferPointer(values).copyMemory(from: data)
            case .float64:
                for index in 0..<(rows * width) {
                    values[index] = Float(data.loadUnaligned(fromByteOffset: index * 8, as: Double.self))
                }
            }
        }
        return batch
    }

    /// Encodes a batch as a `<f4` `(rows, features)` `.npy` file.
    public static func encode(_ batch: FeatureBatch) -> [UInt8] {
        var bytes = NpyHeader.encode(shape: [batch.rows, batch.features])
        batch.withUnsafeValues { values in
            bytes.append(contentsOf: UnsafeRawBufferPointer(values))
        }
        return bytes
    }
}
