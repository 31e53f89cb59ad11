import Foundation

/// One file of `../shared/reference/cases/`: a stage run by the real library, step by step.
struct ReferenceCase {
    struct Step {
        var mode: String
        var input: [[Float]]
        var output: [[Double]]
        /// Statistic name → per-feature values, or a counter (an integer).
        var stateAfter: [String: Any]
    }

    var name: String
    var stageType: String
    var convention: String
    /// The library's own parameter names and values (JSON values).
    var params: [String: Any]
    var features: Int
    /// normd's `columns:` selector of the stage (project cases only; JSON list), or nil: every column.
    var columns: Any?
    var gamma: [Double]?
    var beta: [Double]?
    var steps: [Step]

    static let directory = Normd.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/cases")
    /// The cases this repository generates with the real scikit-learn (`Scripts/make_reference_cases.py`).
    static let projectDirectory = Normd.repositoryRoot.appendingPathComponent("Tests/ReferenceCases")

    /// The case files, sorted; empty when the directory is missing (the count test then fails).
    static func fileNames(in directory: URL = directory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    static func load(_ url: URL) throws -> ReferenceCase {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        let stage = object["stage"] as? [String: Any] ?? [:]
        func doubles(_ value: Any?) -> [Double]? { (value as? [NSNumber])?.map(\.doubleValue) }
        let steps = (object["steps"] as? [[String: Any]] ?? []).map { step in
            Step(mode: step["mode"] as? String ?? "?",
                 input: (step["input"] as? [[NSNumber]] ?? []).map { $0.map { Float($0.doubleValue) } },
                 output: (step["output"] as? [[NSNumber]] ?? []).map { $0.map(\.doubleValue) },
                 stateAfter: step["state_after"] as? [String: Any] ?? [:])
        }
        return ReferenceCase(
            name: object["name"] as? String ?? url.lastPathComponent,
            stageType: stage["type"] as? String ?? "?", convention: stage["convention"] as? String ?? "?",
            params: stage["params"] as? [String: Any] ?? [:], features: (object["n_features"] as? NSNumber)?.intValue ?? 0,
            columns: object["columns"], gamma: doubles(object["gamma"]), beta: doubles(object["beta"]), steps: steps)
    }

    /// A one-pipeline normd configuration with this case's stage; parameter values are written as
    /// JSON, which is valid YAML flow syntax (`null`, numbers, lists, mappings).
    func configuration() throws -> String {
        var lines = [
            "pipelines:",
            "  - name: \(name.replacingOccurrences(of: " ", with: "_"))",
            "    features: \(features)",
            "    batch: {size: 16, min_rows: 2}",
            "    stages:",
            "      - type: \(stageType)",
            "        convention: \(convention)",
        ]
        for key in params.keys.sorted() {
            lines.append("        \(key): \(try json(params[key]!))")
        }
        if let columns { lines.append("        columns: \(try json(columns))") }
        if let gamma { lines.append("        gamma: \(try json(gamma))") }
        if let beta { lines.append("        beta: \(try json(beta))") }
        return lines.joined(separator: "\n") + "\n"
    }

    private func json(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
