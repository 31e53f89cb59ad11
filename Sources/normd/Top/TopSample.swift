import Foundation

/// One reading of the admin endpoint for `normd top`: `/metrics`, `/pipelines`, and each pipeline's
/// `/pipelines/{name}/statistics`. Rates come from two readings (``TopScreen``).
struct TopSample {
    var takenAt: ContinuousClock.Instant
    /// Unix time of the reading: the checkpoint's age is measured against it.
    var unixTime: Double
    var metrics: MetricSeries
    var pipelines: [Pipeline]

    struct Pipeline {
        var name: String
        var mode: String
        var statsVersion: Int
        /// `counts.messages_rejected`, `counts.rows_dropped`: by reason.
        var rejected: [String: Int]
        var rowsDropped: [String: Int]
        var batchesDropped: Int
        /// Per stage, or why the statistics could not be read (a pipeline blocked on its output).
        var stages: Result<[Stage], AdminClient.Failure>
    }

    /// A stage's statistics summarized across features.
    struct Stage {
        var index: Int
        var kind: String
        /// (what, spread) in display order: `data_min`/`data_max`, or `mean`/`std`.
        var spreads: [(name: String, spread: Spread)]
    }

    /// min / median / max of one statistic over the features (median of an even count: the mean of the two middle values).
    struct Spread: Equatable {
        var min: Double, median: Double, max: Double

        init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            let middle = sorted.count / 2
            self.min = sorted[0]
            self.max = sorted[sorted.count - 1]
            self.median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
    }

    /// Reads the three endpoints once.
    static func read(from client: AdminClient) throws(AdminClient.Failure) -> TopSample {
        let metricsAnswer = try client.get("/metrics")
        guard metricsAnswer.status == 200 else { throw refusal(metricsAnswer, "/metrics", client) }
        let pipelinesAnswer = try client.get("/pipelines")
        guard pipelinesAnswer.status == 200,
            let list = try? JSONSerialization.jsonObject(with: pipelinesAnswer.body) as? [[String: Any]]
        else {
            throw refusal(pipelinesAnswer, "/pipelines", client)
        }
        var pipelines: [Pipeline] = []
        for object in list {
            guard let name = object["name"] as? String else { continue }
            let counts = object["counts"] as? [String: Any] ?? [:]
            pipelines.append(
                Pipeline(
                    name: name, mode: object["mode"] as? String ?? "?", statsVersion: object["stats_version"] as? Int ?? 0,
                    rejected: counts["messages_rejected"] as? [String: Int] ?? [:], rowsDropped: counts["rows_dropped"] as? [String: Int] ?? [:],
                    batchesDropped: counts["batches_dropped"] as? Int ?? 0, stages: stages(of: name, from: client)))
        }
        return TopSample(
            takenAt: .now, unixTime: Date().timeIntervalSince1970,
            metrics: MetricSeries(parsing: String(decoding: metricsAnswer.body, as: UTF8.self)), pipelines: pipelines)
    }

    private static func stages(of pipeline: String, from client: AdminClient) -> Result<[Stage], AdminClient.Failure> {
        // Pipeline names are [A-Za-z0-9_.-] (validated): nothing to escape in the path.
        let path = "/pipelines/\(pipeline)/statistics"
        let answer: AdminClient.Answer
        do { answer = try client.get(path) } catch { return .failure(error) }
        guard answer.status == 200, let record = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any] else {
            return .failure(refusal(answer, path, client))
        }
        let stages = (record["stages"] as? [[String: Any]] ?? []).enumerated().map { position, stage in
            Stage(
                index: stage["index"] as? Int ?? position, kind: stage["kind"] as? String ?? "?",
                spreads: spreads(of: stage["statistics"] as? [String: Any] ?? [:]))
        }
        return .success(stages)
    }

    /// What shows drift at a glance, by the names the frameworks use (Docs/STATE_FORMAT.md):
    /// scikit-learn's MinMaxScaler `data_min`/`data_max`; a mean and a standard deviation
    /// (σ = √variance) from tf_keras `moving_mean`/`moving_variance`, PyTorch `running_mean`/`running_var`
    /// or StandardScaler `mean`/`var`; otherwise (a plugin) its first two statistics by name.
    static func spreads(of statistics: [String: Any]) -> [(name: String, spread: Spread)] {
        func values(_ key: String) -> [Double]? { (statistics[key] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } }
        func pair(_ first: (String, [Double]?), _ second: (String, [Double]?)) -> [(name: String, spread: Spread)] {
            [first, second].compactMap { name, list in list.flatMap(Spread.init).map { (name: name, spread: $0) } }
        }
        if let low = values("data_min"), let high = values("data_max") { return pair(("data_min", low), ("data_max", high)) }
        for (mean, variance) in [("moving_mean", "moving_variance"), ("running_mean", "running_var"), ("mean", "var")] {
            if let means = values(mean), let variances = values(variance) {
                return pair(("mean", means), ("std", variances.map { $0.squareRoot() }))
            }
        }
        return statistics.keys.sorted().prefix(2).compactMap { key in values(key).flatMap(Spread.init).map { (name: key, spread: $0) } }
    }

    private static func refusal(_ answer: AdminClient.Answer, _ path: String, _ client: AdminClient) -> AdminClient.Failure {
        let error = (try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["error"] as? String
        return AdminClient.Failure(description: "\(client.base)\(path) answered \(answer.status)\(error.map { ": \($0)" } ?? "")")
    }
}

/// Prometheus text format 0.0.4 as `normd top` needs it: each sample's metric name, labels and value.
struct MetricSeries {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    private(set) var samples: [String: [Sample]] = [:]

    init(parsing text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var labels: [String: String] = [:]
            let name: Substring
            if let open = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = series[..<open]
                // normd's label values are names, reasons and numbers: no escaped quotes or commas inside.
                for pair in series[series.index(after: open)..<series.index(before: series.endIndex)].split(separator: ",") {
                    guard let equals = pair.firstIndex(of: "=") else { continue }
                    labels[String(pair[..<equals])] = String(
                        pair[pair.index(after: equals)...].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
                }
            } else {
                name = series
            }
            samples[String(name), default: []].append(Sample(name: String(name), labels: labels, value: value))
        }
    }

    /// The sum of `name`'s samples whose labels include `matching`.
    func sum(_ name: String, _ matching: [String: String] = [:]) -> Double {
        (samples[name] ?? []).filter { sample in matching.allSatisfy { sample.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }

    /// A histogram's cumulative buckets for `pipeline`, by upper bound (`+Inf` last).
    func buckets(_ name: String, pipeline: String) -> [(bound: Double, count: Double)] {
        (samples[name + "_bucket"] ?? []).filter { $0.labels["pipeline"] == pipeline }
            .compactMap { sample in sample.labels["le"].flatMap { Double($0 == "+Inf" ? "inf" : $0) }.map { (bound: $0, count: sample.value) } }
            .sorted { $0.bound < $1.bound }
    }
}
