import Foundation

/// One `pipelines:` entry for a daemon test, with loopback wildcard endpoints by default
/// (the daemon logs the ports it bound).
struct PipelineYAML {
    static let tcpWildcard = "tcp://127.0.0.1:*"

    var name = "sensors"
    var features = 4
    var mode = "train"
    var batch = "{size: 16, min_rows: 2, max_latency: 10s}"
    var inputs = ["{endpoint: \"\(tcpWildcard)\", socket: pull, bind: true, codec: tensor}"]
    var output: String? = "{endpoint: \"\(tcpWildcard)\", socket: push, bind: true, codec: tensor}"
    /// More keys of the pipeline, e.g. `invalid_rows: drop_rows`.
    var extra: [String] = []
    var stages = ["{type: min_max, feature_range: [0, 1]}", "{type: batch_norm, momentum: 0.9, epsilon: 0.001}"]

    var text: String {
        var lines = ["  - name: \(name)", "    features: \(features)", "    mode: \(mode)", "    batch: \(batch)"]
        if !inputs.isEmpty { lines += ["    inputs:"] + inputs.map { "      - \($0)" } }
        if let output { lines.append("    output: \(output)") }
        lines += extra.map { "    \($0)" }
        lines += ["    stages:"] + stages.map { "      - \($0)" }
        return lines.joined(separator: "\n")
    }

    static func config(_ pipelines: PipelineYAML...) -> String { config(pipelines) }

    static func config(_ pipelines: [PipelineYAML]) -> String {
        "pipelines:\n" + pipelines.map(\.text).joined(separator: "\n") + "\n"
    }
}
