import NormConfig
import StageKit

/// What a reload would change, decided before anything changes: per pipeline, the new configuration
/// and which stages keep their statistics — or the located reasons the new file cannot be taken
/// over by the running daemon (all or nothing).
///
/// A stage keeps its statistics when its `StagePlan.identity` (pipeline, position, kind, columns,
/// checkpoint fingerprint) is unchanged; settings outside it (momentum, gamma, clipping…) then take
/// effect from the next batch. Any other stage starts fresh — unless checkpoints are on with
/// `on_mismatch: refuse`, which refuses the reload naming the stage, as the same change is refused
/// at a restart.
///
/// Not taken over by a reload (refused, "needs a restart"): adding, removing or reordering pipelines;
/// a pipeline's `features`, `inputs`, `output` or `max_producers`; the `checkpoint:` and `admin:` sections;
/// `security:` other than the keys in `authorized_keys` (which every reload re-reads).
struct ReloadPlan {
    struct PipelineChange {
        var configuration: PipelineConfiguration
        /// Positions (in the new `stages:`) whose statistics carry over from the running chain.
        var kept: [Int]
        /// Positions that start fresh.
        var reset: [Int]
    }

    /// One per running pipeline, in the running order.
    var pipelines: [PipelineChange]

    /// Located reasons a file cannot be reloaded (each prints like a `normd validate` message).
    struct Refusal: Error {
        var issues: [ConfigIssue]
    }

    /// Compares the running configuration with a validated new one.
    static func make(from running: NormdConfiguration, to next: NormdConfiguration) throws(Refusal) -> ReloadPlan {
        var issues: [ConfigIssue] = []
        func restart(_ location: SourceLocation?, _ path: ConfigPath, _ what: String) {
            issues.append(ConfigIssue(at: location, path: path,
                                      "\(what) needs a restart; a reload changes stages, batching, mode and invalid_rows only"))
        }
        let runningNames = running.pipelines.map(\.name), nextNames = next.pipelines.map(\.name)
        guard runningNames == nextNames else {
            restart(next.pipelines.first?.location, ConfigPath.root.appending("pipelines"),
                    "adding, removing or reordering pipelines (running [\(runningNames.joined(separator: ", "))], "
                        + "the file has [\(nextNames.joined(separator: ", "))])")
            throw Refusal(issues: issues)
        }
        if running.checkpoint != next.checkpoint {
            restart(nil, ConfigPath.root.appending("checkpoint"), "changing the checkpoint section")
        }
        if running.admin != next.admin {
            restart(nil, ConfigPath.root.appending("admin"), "changing the admin section")
        }
        // The keys themselves are re-read by every reload (CurveGate); the daemon's own key pair, the
        // directory and allow_ips are bound into the sockets and ZAP handlers at start.
        func boundSecurity(_ configuration: NormdConfiguration) -> [String]? {
            configuration.curve.map { [$0.publicKey, $0.secretKeyFile, $0.authorizedKeysDirectory] + $0.allowIPs }
        }
        if boundSecurity(running) != boundSecurity(next) {
            restart(nil, ConfigPath.root.appending("security"), "changing the security section (other than the keys in authorized_keys)")
        }
        let refuseResets = next.checkpoint?.onMismatch == .refuse
        var changes: [PipelineChange] = []
        for (index, (old, new)) in zip(running.pipelines, next.pipelines).enumerated() {
            let path = ConfigPath.root.appending("pipelines").appending(index: index)
            if old.features != new.features { restart(new.location, path.appending("features"), "changing features (\(old.features) → \(new.features))") }
            if old.inputs != new.inputs { restart(new.location, path.appending("inputs"), "changing endpoints (inputs)") }
            if old.output != new.output { restart(new.location, path.appending("output"), "changing endpoints (output)") }
            if old.statisticsFrom?.pipeline != new.statisticsFrom?.pipeline {
                restart(new.statisticsFrom?.location ?? new.location, path.appending("statistics_from"), "changing statistics_from")
            }
            if old.maxProducers != new.maxProducers { restart(new.location, path.appending("max_producers"), "changing max_producers") }
            var change = PipelineChange(configuration: new, kept: [], reset: [])
            for plan in new.stages {
                let previous = plan.position < old.stages.count ? old.stages[plan.position] : nil
                if let previous, previous.identity == plan.identity {
                    change.kept.append(plan.position)
                    continue
                }
                change.reset.append(plan.position)
                if refuseResets {
                    issues.append(ConfigIssue(at: new.location, path: path.appending("stages").appending(index: plan.position),
                        "its statistics cannot be kept (\(why(previous, plan))) and checkpoint.on_mismatch is refuse; "
                            + "set on_mismatch: reset to start this stage fresh on reload"))
                }
            }
            changes.append(change)
        }
        guard issues.isEmpty else { throw Refusal(issues: issues) }
        return ReloadPlan(pipelines: changes)
    }

    /// Why `plan` cannot take over `previous`'s statistics.
    private static func why(_ previous: StagePlan?, _ plan: StagePlan) -> String {
        guard let previous else { return "a new stage" }
        if previous.kind != plan.kind { return "kind \(previous.kind) → \(plan.kind)" }
        if previous.columns != plan.columns { return "columns changed" }
        let keys = Set(previous.fingerprint.keys).union(plan.fingerprint.keys).sorted()
        let changed = keys.filter { previous.fingerprint[$0] != plan.fingerprint[$0] }
            .map { "\($0) \(previous.fingerprint[$0] ?? "none") → \(plan.fingerprint[$0] ?? "none")" }
        return "fingerprint changed: \(changed.joined(separator: ", "))"
    }
}
