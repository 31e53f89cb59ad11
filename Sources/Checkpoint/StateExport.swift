import Foundation

/// A state document flattened for trainers: one array per statistic and counter, keyed
/// `<pipeline>/<index>_<kind>/<name>` (e.g. `sensors/1_batch_norm/moving_variance`), the same keys
/// in the `.npz` and the flat JSON export.
///
/// Keys become ZIP member names (which `unzip` turns into paths) and JSON keys, and the names in them
/// come from a file anyone can craft with a valid checksum (and statistic names from plugins). So a
/// key is refused, not rewritten, when it would escape or collide: a `/` inside a statistic or
/// counter name, a `.` or `..` segment, or two arrays with the same key (a statistic and a counter
/// of one name). Refusing keeps every exported key exactly what the README promises.
public enum StateExport {
    /// Why a document cannot be exported.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case unsafeKey(key: String, reason: String)
        case duplicateKey(String)
        case archive(NpzArchive.Failure)
        case unencodable(String)

        public var description: String {
            switch self {
            case .unsafeKey(let key, let reason): "cannot export key '\(key)': \(reason)"
            case .duplicateKey(let key): "cannot export: two arrays would both be named '\(key)'"
            case .archive(let failure): failure.description
            case .unencodable(let detail): "cannot encode statistics as JSON: \(detail)"
            }
        }
    }

    /// Every array of `document`, sorted by key.
    public static func arrays(of document: StateDocument) throws(Failure) -> [(key: String, array: NpzArchive.Array)] {
        var out: [(key: String, array: NpzArchive.Array)] = []
        var keys = Set<String>()
        func add(_ pipeline: PipelineStateRecord, _ stage: StageStateRecord, _ name: String, _ array: NpzArchive.Array) throws(Failure) {
            let segments = [pipeline.name, "\(stage.index)_\(stage.kind)", name]
            let key = segments.joined(separator: "/")
            if let reason = unsafe(segments) { throw .unsafeKey(key: key, reason: reason) }
            guard keys.insert(key).inserted else { throw .duplicateKey(key) }
            out.append((key, array))
        }
        for pipeline in document.pipelines {
            for stage in pipeline.stages {
                for (name, values) in stage.statistics { try add(pipeline, stage, name, .float64(values)) }
                for (name, value) in stage.counters { try add(pipeline, stage, name, .int64(value)) }
            }
        }
        return out.sorted { $0.key < $1.key }
    }

    /// Why a key of these segments is unsafe as a member name, or `nil`.
    static func unsafe(_ segments: [String]) -> String? {
        for segment in segments {
            if segment.isEmpty { return "an empty name" }
            if segment.contains("/") || segment.contains("\\") { return "the name '\(segment)' contains a path separator" }
            if segment == "." || segment == ".." { return "the name '\(segment)' is a relative path component" }
            if segment.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                return "a name contains a control character"
            }
        }
        return nil
    }

    /// An `.npz` archive NumPy loads with `np.load(path)[key]`.
    public static func npz(_ document: StateDocument) throws(Failure) -> [UInt8] {
        var archive = NpzArchive()
        for (key, array) in try arrays(of: document) { archive.add(key, array) }
        do {
            return try archive.encoded()
        } catch {
            throw .archive(error)
        }
    }

    /// A flat JSON object with the same keys: statistics as lists of numbers, counters as integers.
    public static func json(_ document: StateDocument) throws(Failure) -> [UInt8] {
        var flat: [String: FlatValue] = [:]
        for (key, array) in try arrays(of: document) {
            switch array {
            case .float64(let values): flat[key] = .list(values)
            case .int64(let value): flat[key] = .integer(value)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(flat)) + Array("\n".utf8)
        } catch {
            throw .unencodable(String(describing: error))
        }
    }

    private enum FlatValue: Encodable {
        case list([Double])
        case integer(Int64)

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .list(let values): try container.encode(values)
            case .integer(let value): try container.encode(value)
            }
        }
    }
}
