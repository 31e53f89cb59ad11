import Foundation

/// What `normd top` prints for two readings of the admin endpoint (plain text; ``TopTerminal``
/// adds the escape codes that redraw it in place). Rates are the counters' differences over the
/// time between the readings: `rate = (count₂ − count₁) / (t₂ − t₁)`.
enum TopScreen {
    static func lines(previous: TopSample?, current: TopSample, source: String, interval: Duration, live: Bool) -> [String] {
        var lines = ["normd top  \(source)  every \(seconds(interval))\(live ? "  (q quits)" : "")"]
        let elapsed = previous.map { durationSeconds(current.takenAt - $0.takenAt) } ?? 0
        for pipeline in current.pipelines {
            let labels = ["pipeline": pipeline.name]
            func rate(_ name: String, _ matching: [String: String] = labels) -> String {
                guard let previous, elapsed > 0 else { return "-" }
                return number(max(0, current.metrics.sum(name, matching) - previous.metrics.sum(name, matching)) / elapsed, decimals: 1)
            }
            lines.append("")
            lines.append(
                "pipeline \(pipeline.name)  mode \(pipeline.mode)  stats_version \(pipeline.statsVersion)  "
                    + "last checkpoint \(checkpointAge(current))")
            lines.append(
                "  rows/s in \(rate("normd_rows_received_total"))  out \(rate("normd_rows_published_total"))  "
                    + "batches/s \(rate("normd_batches_published_total"))  pending rows \(Int(current.metrics.sum("normd_pending_rows", labels)))  "
                    + "batch latency \(latency(previous, current, pipeline: pipeline.name))")
            lines.append("  rejected: \(byReason(pipeline.rejected))")
            lines.append("  dropped: rows \(byReason(pipeline.rowsDropped)), batches \(pipeline.batchesDropped)")
            switch pipeline.stages {
            case .failure(let failure):
                lines.append("  statistics unavailable: \(failure)")
            case .success(let stages):
                var table = [["stage", "kind", "statistic", "min", "median", "max"]]
                for stage in stages {
                    if stage.spreads.isEmpty { table.append(["\(stage.index)", stage.kind, "-", "", "", ""]) }
                    for (name, spread) in stage.spreads {
                        table.append(["\(stage.index)", stage.kind, name, number(spread.min), number(spread.median), number(spread.max)])
                    }
                }
                lines += aligned(table).map { "  " + $0 }
            }
        }
        return lines
    }

    /// p50 and p99 of `normd_batch_latency_seconds` between the two readings (the upper bound of the
    /// bucket holding the quantile), or since the start when no batch was published in between.
    static func latency(_ previous: TopSample?, _ current: TopSample, pipeline: String) -> String {
        let now = current.metrics.buckets("normd_batch_latency_seconds", pipeline: pipeline)
        var window = now
        var since = ""
        if let previous {
            let before = Dictionary(
                previous.metrics.buckets("normd_batch_latency_seconds", pipeline: pipeline).map { ($0.bound, $0.count) },
                uniquingKeysWith: { first, _ in first })
            window = now.map { (bound: $0.bound, count: $0.count - (before[$0.bound] ?? 0)) }
        }
        if (window.last?.count ?? 0) <= 0 {
            window = now
            since = " (since start)"
        }
        guard let total = window.last?.count, total > 0 else { return "p50 -  p99 -" }
        func quantile(_ q: Double) -> String {
            guard let bucket = window.first(where: { $0.count >= q * total }) else { return "-" }
            if bucket.bound.isInfinite { return ">" + duration(window.dropLast().last?.bound ?? 0) }
            return "<=" + duration(bucket.bound)
        }
        return "p50 \(quantile(0.5))  p99 \(quantile(0.99))\(since)"
    }

    static func checkpointAge(_ sample: TopSample) -> String {
        let written = sample.metrics.sum("normd_checkpoint_last_success_timestamp_seconds")
        guard written > 0 else { return "none" }
        let age = max(0, sample.unixTime - written)
        return age < 120 ? "\(number(age, decimals: 1))s ago" : age < 7200 ? "\(Int(age / 60))m ago" : "\(Int(age / 3600))h ago"
    }

    /// `{wrong_width: 2, oversize: 1}` as `oversize 1, wrong_width 2`; all zero: `none`.
    static func byReason(_ table: [String: Int]) -> String {
        let nonzero = table.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        return nonzero.isEmpty ? "none" : nonzero.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// Columns padded to their widest cell, two spaces apart.
    static func aligned(_ rows: [[String]]) -> [String] {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
    }

    /// Six significant digits (`%g`), `-0` shown as `0`.
    static func number(_ value: Double) -> String {
        value == 0 ? "0" : String(format: "%.6g", value)
    }

    static func number(_ value: Double, decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 1e-3 ? String(format: "%gus", seconds * 1e6) : seconds < 1 ? String(format: "%gms", seconds * 1e3) : String(format: "%gs", seconds)
    }

    static func seconds(_ interval: Duration) -> String { String(format: "%gs", durationSeconds(interval)) }

    static func durationSeconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
