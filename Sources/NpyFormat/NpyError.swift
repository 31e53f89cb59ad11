/// Why bytes could not be read as a batch of feature vectors in `.npy` format.
public enum NpyError: Error, Sendable, Equatable, CustomStringConvertible {
    case notNpy
    case unsupportedVersion(major: Int)
    case malformedHeader(String)
    case unsupportedElementType(String)
    case fortranOrder
    case unsupportedRank(shape: [Int])
    case widthMismatch(expected: Int, got: Int)
    case truncated(expectedBytes: Int, actualBytes: Int)
    /// The header's shape holds more bytes than an `Int` can count (so more than any file has).
    case shapeTooLarge(shape: [Int], dataBytes: Int)

    public var description: String {
        switch self {
        case .notNpy: "not a .npy file (missing the \\x93NUMPY magic)"
        case .unsupportedVersion(let major): ".npy format version \(major) is not supported (1, 2 and 3 are)"
        case .malformedHeader(let header): "malformed .npy header: \(header)"
        case .unsupportedElementType(let descr): "unsupported dtype \(descr); expected '<f4' (float32) or '<f8' (float64)"
        case .fortranOrder: "array is in Fortran (column-major) order; save a C-order array (np.ascontiguousarray)"
        case .unsupportedRank(let shape): "expected a 2-D array (rows, features), got shape \(Self.shapeText(shape))"
        case .widthMismatch(let expected, let got): "rows have \(got) features, the pipeline expects \(expected)"
        case .truncated(let expected, let actual): "truncated .npy data: expected \(expected) bytes, got \(actual)"
        case .shapeTooLarge(let shape, let dataBytes):
            "the header's shape \(Self.shapeText(shape)) needs more than \(Int.max) bytes of data; the file has \(dataBytes)"
        }
    }

    static func shapeText(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}
