import NormConfig
import StageKit

/// What a reload would change, decided before anything changes: which pipelines keep running and
/// take their new settings at a batch boundary, which are re-bound, added or removed, and which
/// stages keep their statistics — or the located reasons the new file cannot be taken over by the
/// running daemon (all or nothing).
///
/// Pipelines are matched by name (their order in the file does not matter):
/// - same name, same endpoints: the running thread takes the new chain and settings at a batch
///   boundary (`PipelineLoop.reload`);
/// - same name, changed `inputs`, `output`, `features`, `max_producers`, `io_threads` or `sync`: **re-bound** — the running
///   loop is drained, flushed and closed, a new one binds the new sockets, carrying its counts, batch
///   numbers, mode and the kept statistics (a changed `features` resets every stage);
/// - a name only in the file: **added** (statistics from the checkpoint's record when it has one);
/// - a name only in the running configuration: **removed**, flushed, its final statistics checkpointed.
///
/// A stage keeps its statistics when its `StagePlan.identity` (pipeline, position, kind, columns,
/// checkpoint fingerprint) is unchanged; settings outside it (momentum, gamma, clipping…) then take
/// effect from the next batch. Any other stage starts fresh — unless checkpoints are on with
/// `on_mismatch: refuse`, which refuses the reload naming the stage, as the same change is refused
/// at a restart.
///
/// A changed `checkpoint.path` alone moves the generations to the new directory (one written at once).
/// A changed `admin.listen` re-binds the admin server; an added `admin:` starts it, a removed one stops it.
///
/// Not taken over by a reload (refused, "needs a restart"): a changed or added `statistics_from`;
/// the rest of the `checkpoint:` section; `admin.control` or `admin.token_file` changed while `admin.listen`
/// stays (the token file's content is re-read by every reload); `security:` other than the keys in `authorized_keys`
/// (which every reload re-reads).
struct ReloadPlan {
    struct PipelineChange {
        var configuration: PipelineConfiguration
        /// Positions (in the new `stages:`) whose statistics carry over from the running chain.
        var kept: [Int]
        /// Positions that start fresh.
        var reset: [Int]
        /// Why the pipeline is re-bound (`inputs`, `output`…); empty: it is reloaded in place.
        var rebind: [String] = []
    }

    /// One per pipeline in both configurations, in the file's order.
    var pipelines: [PipelineChange]
    /// Pipelines only in the file, in its order.
    var added: [PipelineConfiguration] = []
    /// Names of running pipelines not in the file.
    var removed: [String] = []
    /// A new `checkpoint.path` (the rest of `checkpoint:` unchanged): a generation is written there at once.
    var checkpointDirectory: String?
    /// A changed `admin:` section: a server starts with the new settings (bound before the old one
    /// stops), or the running one stops; `nil`: unchanged.
    var admin: AdminChange?

    enum AdminChange: Equatable {
        case start(AdminConfiguration)
        case stop
    }

    /// Located reasons a file cannot be reloaded (each prints like a `normd validate` message).
    struct Refusal: Error {
        var issues: [ConfigIssue]
    }

    /// Compares the running configuration with a validated new one.
    static func make(from running: NormdConfiguration, to next: NormdConfiguration) throws(Refusal) -> ReloadPlan {
        var issues: [ConfigIssue] = []
        func restart(_ location: SourceLocation?, _ path: ConfigPath, _ what: String) {
            issues.append(
                ConfigIssue(
                    at: location, path: path,
                    "\(what) needs a restart; a reload changes pipelines (stages, batching, mode, endpoints; "
                        + "added and removed) but not this"))
        }
        var plan = ReloadPlan(pipelines: [])
        if running.checkpoint != next.checkpoint {
            if var moved = running.checkpoint, let wanted = next.checkpoint, moved.directory != wanted.directory,
                {
                    moved.directory = wanted.directory; return moved == wanted
                }()
            {
                plan.checkpointDirectory = wanted.directory
            } else {
                restart(
                    nil, ConfigPath.root.appending("checkpoint"), "changing the checkpoint section (other than its path), or adding or removing it,")
            }
        }
        if running.admin != next.admin {
            if let old = running.admin, let new = next.admin, old.host == new.host, old.port == new.port, new.port != 0 {
                // The new server binds before the old one stops: not possible on the address the old one holds.
                restart(
                    nil, ConfigPath.root.appending("admin"),
                    "changing admin.control or admin.token_file without changing admin.listen (a new server is bound before the old one stops)")
            } else {
                plan.admin = next.admin.map { .start($0) } ?? .stop
            }
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
        let nextNames = Set(next.pipelines.map(\.name))
        plan.removed = running.pipelines.map(\.name).filter { !nextNames.contains($0) }
        for (index, new) in next.pipelines.enumerated() {
            let path = ConfigPath.root.appending("pipelines").appending(index: index)
            guard let old = running.pipeline(named: new.name) else {
                // A follower reads a feed made at start for the pipelines followed then.
                if let source = new.statisticsFrom {
                    restart(source.location, source.path, "adding a pipeline with statistics_from")
                }
                plan.added.append(new)
                continue
            }
            if old.statisticsFrom?.pipeline != new.statisticsFrom?.pipeline {
                restart(new.statisticsFrom?.location ?? new.location, path.appending("statistics_from"), "changing statistics_from")
            }
            var change = PipelineChange(configuration: new, kept: [], reset: [])
            if old.inputs != new.inputs { change.rebind.append("inputs") }
            if old.output != new.output { change.rebind.append("output") }
            if old.maxProducers != new.maxProducers { change.rebind.append("max_producers") }
            // The I/O threads belong to the pipeline's ZeroMQ context, made when its loop starts.
            if old.ioThreads != new.ioThreads { change.rebind.append("io_threads") }
            if old.features != new.features { change.rebind.append("features") }
            // The group member (sockets, rank, step state) is made when the pipeline's thread starts.
            if old.sync != new.sync { change.rebind.append("sync") }
            for plan in new.stages {
                let previous = plan.position < old.stages.count ? old.stages[plan.position] : nil
                if let previous, previous.identity == plan.identity, old.features == new.features {
                    change.kept.append(plan.position)
                    continue
                }
                change.reset.append(plan.position)
                if refuseResets {
                    issues.append(
                        ConfigIssue(
                            at: new.location, path: path.appending("stages").appending(index: plan.position),
                            "its statistics cannot be kept (\(why(previous, plan, features: (old.features, new.features)))) and checkpoint.on_mismatch is refuse; "
                                + "set on_mismatch: reset to start this stage fresh on reload"))
                }
            }
            plan.pipelines.append(change)
        }
        guard issues.isEmpty else { throw Refusal(issues: issues) }
        return plan
    }

    /// Why `plan` cannot take over `previous`'s statistics.
    private static func why(_ previous: StagePlan?, _ plan: StagePlan, features: (Int, Int)) -> String {
        guard let previous else { return "a new stage" }
        if features.0 != features.1 { return "features \(features.0) → \(features.1)" }
        if previous.kind != plan.kind { return "kind \(previous.kind) → \(plan.kind)" }
        if previous.columns != plan.columns { return "columns changed" }
        let keys = Set(previous.fingerprint.keys).union(plan.fingerprint.keys).sorted()
        let changed = keys.filter { previous.fingerprint[$0] != plan.fingerprint[$0] }
            .map { "\($0) \(previous.fingerprint[$0] ?? "none") → \(plan.fingerprint[$0] ?? "none")" }
        return "fingerprint changed: \(changed.joined(separator: ", "))"
    }
}
