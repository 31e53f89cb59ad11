public import Foundation
public import NormCore
public import StageKit
public import Testing

/// One reference case: a stage run by the real library (PyTorch, tf_keras, scikit-learn), step by
/// step, with the inputs, outputs and statistics after each step. The one loader every test
/// target uses, whether it replays the case in-process (StageTests) or through `normd apply`
/// (EndToEndTests).
public struct ReferenceCase: CustomTestStringConvertible, Sendable {
    public struct Step: Sendable {
        public var mode: Mode
        public var input: [[Float]]
        public var output: [[Float]]
        /// Per-feature statistics, named as the library names them.
        public var stateVectors: [String: [Double]]
        /// Integer counters (`num_batches_tracked`, `n_samples_seen`).
        public var stateCounters: [String: Int64]
    }

    public var fileName: String
    /// The case's own name (`name` in the file), the file name when it has none.
    public var name: String
    public var stageType: String
    public var featureCount: Int
    /// The stage's YAML-equivalent mapping: `type`, `convention`, the library's params, gamma/beta.
    public var stageConfig: ConfigNode
    public var steps: [Step]

    public var testDescription: String { fileName }

    /// Where cases live: `shared`, the library runs every engineer replays
    /// (`../shared/reference/cases`); `project`, the cases this repository generates itself with
    /// `Scripts/make_reference_cases.py` (`Tests/ReferenceCases`), in the same layout.
    public enum Folder: String, Sendable {
        case shared = "../shared/reference/cases"
        case project = "Tests/ReferenceCases"

        /// Relative to the repository root.
        public var url: URL {
            BuildProducts.repositoryRoot.appendingPathComponent(rawValue).standardizedFileURL
        }

        public var path: String { url.path }
    }

    public static var folder: URL { Folder.shared.url }

    public static var folderPath: String { folder.path }

    /// Names of every `*.json` file in `folder` (empty when the folder is missing).
    public static func fileNames(in folder: Folder = .shared) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.url.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }

    public enum LoadError: Error, CustomStringConvertible {
        case malformed(String, String)
        public var description: String {
            switch self {
            case .malformed(let file, let what): "\(file): \(what)"
            }
        }
    }

    public static func load(_ fileName: String, from folder: Folder = .shared) throws -> ReferenceCase {
        let data = try Data(contentsOf: folder.url.appendingPathComponent(fileName))
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let stage = root["stage"] as? [String: Any],
            let type = stage["type"] as? String,
            let convention = stage["convention"] as? String,
            let params = stage["params"] as? [String: Any],
            let featureCount = root["n_features"] as? Int,
            let rawSteps = root["steps"] as? [[String: Any]]
        else { throw LoadError.malformed(fileName, "missing stage/n_features/steps") }

        var entries: [(String, ConfigNode)] = [("type", ConfigNode(.string(type))), ("convention", ConfigNode(.string(convention)))]
        for key in params.keys.sorted() { entries.append((key, JSONConfig.node(params[key] as Any))) }
        // normd's `columns:` selector (project cases only): the library saw those columns.
        if let columns = root["columns"] { entries.append(("columns", JSONConfig.node(columns))) }
        for key in ["gamma", "beta"] where !(root[key] is NSNull) && root[key] != nil {
            entries.append((key, JSONConfig.node(root[key] as Any)))
        }
        let steps = try rawSteps.enumerated().map { index, raw in try step(raw, index: index, file: fileName) }
        return ReferenceCase(
            fileName: fileName, name: root["name"] as? String ?? fileName, stageType: type, featureCount: featureCount,
            stageConfig: JSONConfig.map(entries), steps: steps)
    }

    private static func step(_ raw: [String: Any], index: Int, file: String) throws -> Step {
        guard let modeText = raw["mode"] as? String, let mode = Mode(rawValue: modeText),
            let input = raw["input"] as? [[Double]], let output = raw["output"] as? [[Double]],
            let state = raw["state_after"] as? [String: Any]
        else { throw LoadError.malformed(file, "step \(index) lacks mode/input/output/state_after") }
        var vectors: [String: [Double]] = [:]
        var counters: [String: Int64] = [:]
        for (name, value) in state {
            if let list = value as? [Double] {
                vectors[name] = list
            } else if let number = value as? NSNumber, String(cString: number.objCType) != "d" {
                counters[name] = number.int64Value
            } else {
                throw LoadError.malformed(file, "step \(index): state '\(name)' is neither a vector nor an integer")
            }
        }
        // Numbers are float64 reprs of float32 values: Float(Double(text)) is the exact float32.
        return Step(
            mode: mode, input: input.map { $0.map(Float.init) }, output: output.map { $0.map(Float.init) },
            stateVectors: vectors, stateCounters: counters)
    }

    /// A one-pipeline normd configuration with this case's stage, for `normd apply`; the stage's
    /// values are written as JSON, which is valid YAML flow syntax (`null`, numbers, lists, mappings).
    public func pipelineConfiguration(batchSize: Int = 16, minRows: Int = 2) -> String {
        var lines = [
            "pipelines:",
            "  - name: \(name.replacingOccurrences(of: " ", with: "_"))",
            "    features: \(featureCount)",
            "    batch: {size: \(batchSize), min_rows: \(minRows)}",
            "    stages:",
        ]
        for (index, entry) in (stageConfig.mapEntries ?? []).enumerated() {
            lines.append((index == 0 ? "      - " : "        ") + "\(entry.key): \(entry.value.json)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
