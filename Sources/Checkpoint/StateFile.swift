import Foundation

/// Reads and writes state files: a versioned JSON envelope around a `StateDocument`, with a CRC-32
/// over the body's bytes exactly as stored.
///
/// Format 2 (written):
/// ```json
/// {"format":"normd-state","format_version":2,"checksum":"crc32:1a2b3c4d","body":{"pipelines":[…]}}
/// ```
/// The envelope's keys come in this order and `body` is last, so the body's bytes are those after
/// the first `,"body":` up to the envelope's closing `}` (before the final newline). The checksum
/// covers exactly those bytes: any language verifies it with a byte search and its zlib CRC-32
/// (Docs/STATE_FORMAT.md has a Python snippet), without re-encoding JSON.
///
/// Format 1 (still read): same envelope, but the checksum covers Swift `JSONEncoder`'s canonical
/// re-encoding of the body (sorted keys), which only Swift could reproduce — and which a Foundation
/// change in number formatting would have turned into "damaged" for every existing file.
///
/// Why CRC-32 and not SHA-256: the checksum detects damage (a torn write, a flipped bit, a hand edit),
/// not forgery — anyone who can write the file can recompute either hash, so SHA-256 would
/// authenticate nothing more. CRC-32 catches every burst error up to 32 bits and random damage with
/// probability 1 − 2⁻³², is `zlib.crc32` in every standard library, and keeps format 1's label.
public enum StateFile {
    public static let format = "normd-state"
    /// The layout this normd writes; it reads this and every older one.
    public static let formatVersion = 2

    /// What separates the envelope's header from the body in format 2.
    static let bodyMarker = Array(",\"body\":".utf8)

    /// The file's bytes for `document`.
    /// - Throws: `.malformedBody` for a document `decode` would refuse (a file normd writes always
    ///   reads back; found by the `state` fuzz target), `.unencodable` for one JSON cannot hold.
    public static func encode(_ document: StateDocument) throws(StateFileError) -> [UInt8] {
        try StateDocumentCheck.validate(document, path: "(state to write)")
        let body = try canonicalBytes(of: document)
        var bytes = Array("{\"format\":\"\(format)\",\"format_version\":\(formatVersion),\"checksum\":\"\(CRC32.label(CRC32.checksum(body)))\"".utf8)
        bytes += bodyMarker
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
        guard version >= 1 else { throw .malformedBody(path: path, detail: "\"format_version\" \(version) does not exist") }
        let document = version == 1 ? try decodeVersion1(data, path: path) : try decodeVersion2(bytes, path: path)
        try StateDocumentCheck.validate(document, path: path)
        return document
    }

    /// Format 2: the checksum covers the stored body bytes.
    private static func decodeVersion2(_ bytes: [UInt8], path: String) throws(StateFileError) -> StateDocument {
        guard let body = bodyRange(of: bytes) else {
            throw .malformedBody(path: path, detail: "format 2 needs \"body\" as the envelope's last key, written as ,\"body\":{…}}")
        }
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(bytes[..<(body.lowerBound - bodyMarker.count)] + Array("}".utf8)))
        } catch {
            throw .malformedBody(path: path, detail: "the envelope before \"body\" (which must be its last key): " + describe(error))
        }
        let computed = CRC32.label(CRC32.checksum(bytes[body]))
        guard computed == envelope.checksum else {
            throw .checksumMismatch(path: path, stored: envelope.checksum, computed: computed)
        }
        do {
            return try JSONDecoder().decode(StateDocument.self, from: Data(bytes[body]))
        } catch {
            throw .malformedBody(path: path, detail: describe(error))
        }
    }

    /// The body's bytes in a format-2 file: after the first `,"body":`, up to the last `}` (which closes
    /// the envelope), with only whitespace after it.
    static func bodyRange(of bytes: [UInt8]) -> Range<Int>? {
        let marker = bodyMarker
        guard bytes.count > marker.count,
            let start = (0...(bytes.count - marker.count)).first(where: { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }),
            let close = bytes.lastIndex(of: UInt8(ascii: "}")),
            bytes[(close + 1)...].allSatisfy({ [0x20, 0x0A, 0x0D, 0x09].contains($0) }),
            start + marker.count <= close
        else { return nil }
        return (start + marker.count)..<close
    }

    /// Format 1: the checksum covers the canonical re-encoding of the decoded body.
    private static func decodeVersion1(_ data: Data, path: String) throws(StateFileError) -> StateDocument {
        let envelope: Version1Envelope
        do {
            envelope = try JSONDecoder().decode(Version1Envelope.self, from: data)
        } catch {
            throw .malformedBody(path: path, detail: describe(error))
        }
        let computed = CRC32.label(CRC32.checksum(try canonicalVersion1Bytes(of: envelope.body)))
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

    /// The body bytes normd writes (sorted keys, no whitespace): stable for tests and diffs. The
    /// format-2 checksum does not depend on this choice; it covers whatever bytes are stored.
    static func canonicalBytes(of document: StateDocument) throws(StateFileError) -> [UInt8] {
        try canonicalBytes(of: document as any Encodable)
    }

    /// One pipeline's record exactly as it appears in `body.pipelines` (the admin server's
    /// `GET /pipelines/{name}/statistics`).
    public static func canonicalBytes(of record: PipelineStateRecord) throws(StateFileError) -> [UInt8] {
        try canonicalBytes(of: record as any Encodable)
    }

    private static func canonicalBytes(of value: any Encodable) throws(StateFileError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw .unencodable(detail: describe(error))
        }
    }

    /// Format 1's checksum input: the re-encoding of the decoded body with the format-1 keys only
    /// (format 2's `params`, `mode` and `sync_step` did not exist, and a format-1 file has none).
    static func canonicalVersion1Bytes(of document: StateDocument) throws(StateFileError) -> [UInt8] {
        try canonicalBytes(of: Version1Body(document))
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

    /// Format 2's envelope without its body (the reader decodes the body from its own bytes).
    private struct Envelope: Decodable {
        var checksum: String
    }

    private struct Version1Envelope: Decodable {
        var checksum: String
        var body: StateDocument
    }

    /// A document encoded exactly as format 1 encoded it.
    private struct Version1Body: Encodable {
        struct Pipeline: Encodable {
            var name: String
            var features: Int
            var stages: [Stage]
        }
        struct Stage: Encodable {
            var index: Int
            var kind: String
            var state_version: UInt32
            var columns: [Int]
            var fingerprint: [String: String]
            var statistics: [String: [Double]]
            var counters: [String: Int64]
        }
        var pipelines: [Pipeline]

        init(_ document: StateDocument) {
            pipelines = document.pipelines.map { pipeline in
                Pipeline(
                    name: pipeline.name, features: pipeline.features,
                    stages: pipeline.stages.map {
                        Stage(
                            index: $0.index, kind: $0.kind, state_version: $0.stateVersion, columns: $0.columns,
                            fingerprint: $0.fingerprint, statistics: $0.statistics, counters: $0.counters)
                    })
            }
        }
    }
}
