import Foundation

/// A state document flattened for trainers: one array per statistic and counter, keyed
/// `<pipeline>/<index>_<kind>/<name>` (e.g. `sensors/1_batch_norm/moving_variance`), the same keys
/// in the `.npz` and the flat JSON export.
public enum StateExport {
    /// Every array of `document`, sorted by key.
    public static func arrays(of document: StateDocument) -> [(key: String, array: NpzArchive.Array)] {
        var out: [(key: String, array: NpzArchive.Array)] = []
        for pipeline in document.pipelines {
            for stage in pipeline.stages {
                let prefix = "\(pipeline.name)/\(stage.index)_\(stage.kind)/"
                for (name, values) in stage.statistics { out.append((prefix + name, .float64(values))) }
                for (name, value) in stage.counters { out.append((prefix + name, .int64(value))) }
            }
        }
        return out.sorted { $0.key < $1.key }
    }

    /// An `.npz` archive NumPy loads with `np.load(path)[key]`.
    public static func npz(_ document: StateDocument) throws(NpzArchive.Failure) -> [UInt8] {
        var archive = NpzArchive()
        for (key, array) in arrays(of: document) { archive.add(key, array) }
        return try archive.encoded()
    }

    /// A flat JSON object with the same keys: statistics as lists of numbers, counters as integers.
    public static func json(_ document: StateDocument) throws(StateFileError) -> [UInt8] {
        var flat: [String: FlatValue] = [:]
        for (key, array) in arrays(of: document) {
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
            throw .unencodable(detail: String(describing: error))
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
