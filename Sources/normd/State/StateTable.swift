import Checkpoint
import Foundation

/// Renders a state document as plain-text tables: one per stage, one row per feature (labelled with
/// its column in the pipeline's rows), one column per statistic, counters on the stage's line.
///
/// Variances are labelled because the frameworks differ: tf_keras' `moving_variance` is the biased
/// (population) variance, PyTorch's `running_var` the unbiased (sample) one.
enum StateTable {
    /// Statistic columns in this order first (means before variances); any other name follows, sorted.
    static let preferredOrder = [
        "moving_mean", "moving_variance", "moving_stddev", "renorm_mean", "renorm_stddev",
        "running_mean", "running_var", "data_min", "data_max", "data_range", "mean", "var", "scale", "min",
    ]

    static func header(for name: String) -> String {
        switch name {
        case "moving_variance": "moving_variance (biased)"
        case "running_var": "running_var (unbiased)"
        case "var": "var (biased)" // sklearn StandardScaler's var_
        default: name
        }
    }

    static func render(_ document: StateDocument, file: String) -> String {
        var out = "\(file)\n"
        for pipeline in document.pipelines {
            out += "\npipeline '\(pipeline.name)' (\(pipeline.features) features)\n"
            for stage in pipeline.stages {
                var line = "  stages[\(stage.index)] \(stage.kind)"
                if let convention = stage.fingerprint["convention"] { line += " (\(convention))" }
                line += "  state_version \(stage.stateVersion)"
                for (name, value) in stage.counters.sorted(by: { $0.key < $1.key }) { line += "  \(name)=\(value)" }
                out += line + "\n"
                out += table(stage).map { "    " + $0 + "\n" }.joined()
            }
        }
        return out
    }

    private static func table(_ stage: StageStateRecord) -> [String] {
        let names = stage.statistics.keys.sorted { a, b in
            let (ia, ib) = (preferredOrder.firstIndex(of: a) ?? Int.max, preferredOrder.firstIndex(of: b) ?? Int.max)
            return ia != ib ? ia < ib : a < b
        }
        guard !names.isEmpty else { return ["(no statistics)"] }
        let rows = stage.statistics[names[0]]?.count ?? 0
        var cells: [[String]] = [["column"] + names.map(header(for:))]
        for row in 0..<rows {
            let column = row < stage.columns.count ? String(stage.columns[row]) : "?"
            cells.append(
                [column]
                    + names.map { name in
                        guard let values = stage.statistics[name], row < values.count else { return "-" }
                        return String(format: "%.9g", values[row])
                    })
        }
        let widths = (0..<cells[0].count).map { index in cells.map { $0[index].count }.max() ?? 0 }
        return cells.map { row in
            zip(row, widths).enumerated().map { index, cell in
                let (text, width) = cell
                let padding = String(repeating: " ", count: width - text.count)
                return index == 0 ? text + padding : padding + text
            }.joined(separator: "  ")
        }
    }
}
