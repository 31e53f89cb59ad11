import Foundation

/// Reads and writes state files: a versioned JSON envelope around a `StateDocument`, with a
/// CRC-32 over the body's canonical encoding.
///
/// ```json
/// {"format":"normd-state","format_version":1,"checksum":"crc32:1a2b3c4d","body":{"pipelines":[…]}}
/// ```
/// The canonical encoding is `JSONEncoder` with sorted keys, no whitespace and unescaped slashes.
/// The writer stores exactly those bytes as `body`; the reader decodes the body, re-encodes it the
/// same way and compares checksums, so any change to a value (a flipped digit) is caught even though
/// the reader never needs the original byte range.
public enum StateFile {
    public static let format = "normd-state"
    /// The layout this normd writes; it reads this and every older one.
    public static let formatVersion = 1

    /// The file's bytes for `document`.
    public static func encode(_ document: StateDocument) throws(StateFileError) -> [UInt8] {
        let body = try canonicalBytes(of: document)
        var bytes = Array("{\"format\":\"\(format)\",\"format_version\":\(formatVersion),\"checksum\":\"\(CRC32.label(CRC32.checksum(body)))\",\"body\":".utf8)
        bytes += body
        bytes += Array("}\n".utf8)
        return bytes
    }

    /// Parses and verifies a state file's bytes; `path` only names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(StateFileError) -> StateDocument {
        let data = Data(bytes)
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data)
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw .notJSON(path: path, detail: Self.describe(DecodingError.dataCorrupted(context)))
        } catch {
            throw .wrongFormat(path: path, found: "a JSON value that is not an object")
        }
        guard header.format == format else {
            throw .wrongFormat(path: path, found: header.format.map { "\"format\": \"\($0)\"" } ?? "no \"format\" key")
        }
        guard let version = header.formatVersion else { throw .malformedBody(path: path, detail: "no \"format_version\"") }
        guard version <= formatVersion else {
            throw .newerFormatVersion(path: path, version: version, supported: formatVersion)
        }
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: data)
        } catch {
            throw .malformedBody(path: path, detail: describe(error))
        }
        let computed = CRC32.label(CRC32.checksum(try canonicalBytes(of: envelope.body)))
        guard computed == envelope.checksum else {
            throw .checksumMismatch(path: path, stored: envelope.checksum, computed: computed)
        }
        return envelope.body
    }

    /// The document stored at `path`, or `nil` when there is no file there (a first run).
    public static func read(path: String) throws(StateFileError) -> StateDocument? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        return try decode(Array(data), path: path)
    }

    /// Writes `document` to `path` atomically and durably (see `AtomicFileWriter`).
    public static func write(_ document: StateDocument, to path: String) throws(StateFileError) {
        let bytes = try encode(document)
        do {
            try AtomicFileWriter.write(bytes, to: path)
        } catch {
            throw .writeFailed(path: path, reason: error.description)
        }
    }

    /// The canonical body bytes the checksum covers.
    static func canonicalBytes(of document: StateDocument) throws(StateFileError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(document))
        } catch {
            throw .unencodable(detail: describe(error))
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context),
             DecodingError.keyNotFound(_, let context),
             DecodingError.typeMismatch(_, let context),
             DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            let underlying = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return (path.isEmpty ? "" : "at \(path.dropFirst(path.hasPrefix(".") ? 1 : 0)): ")
                + context.debugDescription + (underlying.map { " (\($0))" } ?? "")
        case EncodingError.invalidValue(_, let context):
            return context.debugDescription
        default:
            return String(describing: error)
        }
    }

    /// The envelope's self-describing fields, read before the body so a newer layout is refused
    /// with a clear message instead of a decoding error.
    private struct Header: Decodable {
        var format: String?
        var formatVersion: Int?
        enum CodingKeys: String, CodingKey {
            case format
            case formatVersion = "format_version"
        }
    }

    private struct Envelope: Decodable {
        var checksum: String
        var body: StateDocument
    }
}
