/// Why a state file could not be read or written. Every case names the file.
public enum StateFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// Not parseable as JSON at all (e.g. truncated).
    case notJSON(path: String, detail: String)
    /// JSON, but not a normd state file.
    case wrongFormat(path: String, found: String)
    /// Written by a newer normd whose layout this one does not know.
    case newerFormatVersion(path: String, version: Int, supported: Int)
    /// The body does not hash to the stored checksum: the file was changed or damaged.
    case checksumMismatch(path: String, stored: String, computed: String)
    /// A normd state file whose body does not have the documented shape.
    case malformedBody(path: String, detail: String)
    /// Statistics that JSON cannot hold (NaN or infinity).
    case unencodable(detail: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "\(path): cannot read state file: \(reason)"
        case .notJSON(let path, let detail):
            "\(path): not a normd state file: not valid JSON (truncated or damaged?): \(detail)"
        case .wrongFormat(let path, let found):
            "\(path): not a normd state file: expected \"format\": \"\(StateFile.format)\", found \(found)"
        case .newerFormatVersion(let path, let version, let supported):
            "\(path): written by a newer normd (format \(version), this normd reads up to \(supported)); upgrade normd to read it"
        case .checksumMismatch(let path, let stored, let computed):
            "\(path): state file is damaged or was edited: body checksum is \(computed), the file says \(stored)"
        case .malformedBody(let path, let detail):
            "\(path): malformed state file body: \(detail)"
        case .unencodable(let detail):
            "cannot encode statistics as JSON: \(detail)"
        case .writeFailed(let path, let reason):
            "\(path): cannot write: \(reason)"
        }
    }
}
