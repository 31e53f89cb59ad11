import Foundation
import NormCore
import StageKit
import Testing

/// One file of `/work/shared/reference/cases`: a stage run by the real library, step by step.
struct ReferenceCase: CustomTestStringConvertible, Sendable {
    struct Step: Sendable {
        var mode: Mode
        var input: [[Float]]
        var output: [[Float]]
        /// Per-feature statistics, named as the library names them.
        var stateVectors: [String: [Double]]
        /// Integer counters (`num_batches_tracked`, `n_samples_seen`).
        var stateCounters: [String: Int64]
    }

    var fileName: String
    var stageType: String
    var featureCount: Int
    /// The stage's YAML-equivalent mapping: `type`, `convention`, the library's params, gamma/beta.
    var stageConfig: ConfigNode
    var steps: [Step]

    var testDescription: String { fileName }

    /// The cases folder, found from this file: Tests/StageTests/Support/X.swift → repository root →
    /// `../shared/reference/cases`.
    static var folder: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("../shared/reference/cases").standardizedFileURL
    }

    static var folderPath: String { folder.path }

    /// Names of every `*.json` file in the cases folder (empty when the folder is missing).
    static func fileNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }

    enum LoadError: Error, CustomStringConvertible {
        case malformed(String, String)
        var description: String {
            switch self { case .malformed(let file, let what): "\(file): \(what)" }
        }
    }

    static func load(_ fileName: String) throws -> ReferenceCase {
        let data = try Data(contentsOf: folder.appendingPathComponent(fileName))
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
        for key in ["gamma", "beta"] where !(root[key] is NSNull) && root[key] != nil {
            entries.append((key, JSONConfig.node(root[key] as Any)))
        }
        let steps = try rawSteps.enumerated().map { index, raw in try step(raw, index: index, file: fileName) }
        return ReferenceCase(fileName: fileName, stageType: type, featureCount: featureCount,
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
        return Step(mode: mode, input: input.map { $0.map(Float.init) }, output: output.map { $0.map(Float.init) },
                    stateVectors: vectors, stateCounters: counters)
    }
}
