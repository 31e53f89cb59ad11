import AdminServer
import Checkpoint
import Logging
import NormConfig
import Pipeline
import StageKit

/// Reloads the configuration file of `normd run` into the running daemon (SIGHUP; the admin
/// server's `POST /reload` calls `reload()` too):
///
/// 1. the file is read and resolved completely, exactly as `normd validate` does (`ConfiguredStages`);
///    `plugins:` may load more libraries, a loaded one is never unloaded;
/// 2. `ReloadPlan` compares it with the running configuration, pipeline by pipeline (by name): which
///    are reloaded in place, re-bound, added or removed, which stages keep their statistics, and what
///    a reload cannot take over (refused, "needs a restart");
/// 3. every new chain is built (fresh statistics) and every added pipeline's checkpoint record
///    checked before anything changes;
/// 4. every endpoint a re-bound or added pipeline binds anew is bound and released (`BindProbe`);
///    if a stage is about to reset and checkpoints are on, a generation holding the statistics as
///    they are now is written first (the reload fails, changing nothing, if that write fails); a
///    changed `admin:` starts its new server (bound before the old one stops);
/// 5. each pipeline reloaded in place takes its new chain over at a batch boundary
///    (`PipelineLoop.reload`), copying the kept stages' statistics; counts are never reset;
/// 6. each re-bound pipeline is drained, flushed and closed, and a new loop binds the new sockets
///    with the kept statistics, its counts, batch numbers and mode (the others keep running);
/// 7. removed pipelines are stopped the same way (their final statistics go into a generation at
///    once when checkpoints are on); added ones start.
///
/// Any problem before step 5 leaves the running configuration untouched; every located message is
/// logged, then `msg="reload failed"`. A socket taken between the probe and the bind in step 6 or 7
/// is reported too (failure, ending with what the reload did apply): a re-bound pipeline then binds
/// its old endpoints again. A removed `admin:` stops the server last. One reload runs at a time; a
/// second waits for the first.
actor ReloadCoordinator {
    private let file: String
    private var running: NormdConfiguration
    private let pipelines: PipelineSet
    private let launcher: PipelineLauncher
    private let writer: CheckpointWriter?
    private let logger: Logger
    private var busy = false
    /// Reloads that succeeded and failed since the start, and whether the last one succeeded
    /// (`nil` before the first): what `normd_config_reloads_total` and
    /// `normd_config_last_reload_successful` export.
    private(set) var succeeded = 0, failed = 0
    private(set) var lastSucceeded: Bool?

    /// Longest a reload waits for the generation that saves the statistics of stages about to reset.
    static let checkpointWait: Duration = .seconds(30)

    /// Told about every finished reload (the admin metrics).
    private let finished: @Sendable (ReloadResult) -> Void

    /// With `security: curve:`, whose `authorized_keys` every reload re-reads first.
    private let curve: CurveGate?

    /// With `admin.token_file`, which every reload re-reads first too (a reload that starts a server
    /// with another `admin:` section replaces it).
    private var adminToken: AdminTokenGate?

    /// Runs the admin server, whichever `admin:` section the daemon has now (none: no server).
    private let adminHost: AdminHost?

    init(
        file: String, running: NormdConfiguration, pipelines: PipelineSet, launcher: PipelineLauncher, logger: Logger,
        curve: CurveGate? = nil, adminToken: AdminTokenGate? = nil, adminHost: AdminHost? = nil,
        finished: @escaping @Sendable (ReloadResult) -> Void = { _ in }
    ) {
        self.adminHost = adminHost
        self.finished = finished
        self.adminToken = adminToken
        self.curve = curve
        self.file = file
        self.running = running
        self.pipelines = pipelines
        self.launcher = launcher
        self.writer = launcher.writer
        self.logger = logger
    }

    /// Re-reads the file and applies it, or changes nothing; logs and returns what happened.
    func reload(requestedBy: String) async -> ReloadResult {
        while busy { try? await Task.sleep(for: .milliseconds(20)) }
        busy = true
        defer { busy = false }
        logger.info("reloading the configuration", metadata: ["config": "\(file)", "requested_by": "\(requestedBy)"])
        curve?.rereadAuthorizedKeys(requestedBy: requestedBy, logger: logger)
        adminToken?.reread(requestedBy: requestedBy, logger: logger)
        let result = await attempt()
        switch result {
        case .success(let kept, let reset, _, _):
            succeeded += 1
            lastSucceeded = true
            for stage in kept {
                logger.info(
                    "reload: statistics kept", metadata: ["pipeline": "\(stage.pipeline)", "stage": "\(stage.stage)", "kind": "\(stage.kind)"])
            }
            for stage in reset {
                logger.notice(
                    "reload: statistics reset", metadata: ["pipeline": "\(stage.pipeline)", "stage": "\(stage.stage)", "kind": "\(stage.kind)"])
            }
            logger.info("reload succeeded", metadata: result.logMetadata)
        case .failure(let problems):
            failed += 1
            lastSucceeded = false
            for problem in problems { logger.error("\(problem)") }
            logger.error("reload failed", metadata: result.logMetadata.merging(["configuration": "unchanged"]) { $1 })
        }
        finished(result)
        return result
    }

    private func attempt() async -> ReloadResult {
        let validation = ConfiguredStages.resolve(file: file).validation
        for warning in validation.warnings { logger.warning("\(warning)") }
        guard let next = validation.configuration else { return .failure(problems: validation.errors.map(located)) }
        let plan: ReloadPlan
        do {
            plan = try ReloadPlan.make(from: running, to: next)
        } catch {
            return .failure(problems: error.issues.map(located))
        }
        if pipelines.isStopping { return .failure(problems: ["\(file): the daemon is stopping; nothing changed"]) }
        // Everything that can fail for a reason other than a socket, before anything changes.
        var chains: [String: StageChain] = [:]
        for configuration in plan.pipelines.map(\.configuration) + plan.added {
            do {
                chains[configuration.name] = try configuration.makeChain()
            } catch {
                return .failure(problems: ["\(file): pipeline '\(configuration.name)': cannot create its stages: \(error)"])
            }
        }
        for configuration in plan.added {
            switch restoreAdded(configuration, into: chains[configuration.name]!) {
            case .success(let chain): chains[configuration.name] = chain
            case .failure(let problem): return .failure(problems: [problem.message])
            }
        }
        // Every endpoint about to be bound anew is bound (and released) first: one another process
        // holds refuses the reload here, before the first pipeline is re-bound.
        let binding = (plan.pipelines.filter { !$0.rebind.isEmpty }.map(\.configuration) + plan.added).compactMap { configuration in
            next.pipelines.firstIndex { $0.name == configuration.name }.map { (index: $0, configuration: configuration) }
        }
        let unbindable = BindProbe.check(binding, running: running)
        if !unbindable.isEmpty {
            return .failure(problems: unbindable.map { located($0) + "; nothing changed (no pipeline was re-bound or added)" })
        }
        var newDirectory: (CheckpointDirectory, UInt64)?
        if let path = plan.checkpointDirectory, writer != nil {
            let directory = CheckpointDirectory(path: path)
            do {
                try directory.create()
                newDirectory = (directory, try directory.listing().nextGeneration())
            } catch {
                return .failure(problems: ["\(file): checkpoint.path: \(error); nothing changed"])
            }
        }
        if let writer, plan.pipelines.contains(where: { !$0.reset.isEmpty }) {
            if let problem = await checkpointBeforeReset(writer, pipelines: plan.pipelines) { return .failure(problems: [problem]) }
        }
        // A new admin server listens before anything else changes (and before the old one stops).
        if case .start(let settings) = plan.admin, let adminHost {
            if let problem = await startAdmin(settings, on: adminHost) { return .failure(problems: [problem]) }
        }
        // From here on every generation (the reload's own record updates too) goes to the new directory.
        let previousDirectory = newDirectory.flatMap { moved in writer?.move(to: moved.0, nextGeneration: moved.1) }
        var problems: [String] = []
        for change in plan.pipelines where change.rebind.isEmpty {
            guard let loop = pipelines.loop(named: change.configuration.name) else { continue }
            if let problem = await loop.reload(to: change.configuration, chain: ChainBox(chains[change.configuration.name]!), keeping: change.kept) {
                problems.append(problem)
            }
        }
        for change in plan.pipelines where !change.rebind.isEmpty {
            if let problem = await rebind(change, chain: chains[change.configuration.name]!) { problems.append(problem) }
        }
        if !plan.removed.isEmpty { await remove(plan.removed) }
        for configuration in plan.added {
            let chain = chains[configuration.name]!
            // The writer learns the stages before the first snapshot (the thread owns the chain after `launch`).
            writer?.adopt(PipelineStateRecord(name: configuration.name, chain: chain))
            let loop = launcher.make(configuration, chain: chain, statistics: nil)
            do {
                try await launcher.launch(loop)
                logger.notice("reload: pipeline added", metadata: ["pipeline": "\(configuration.name)"])
            } catch {
                problems.append("\(file): pipeline '\(configuration.name)' was not added: \(error)")
            }
        }
        var checkpoint = next.checkpoint
        if let writer, let (directory, _) = newDirectory, let previousDirectory {
            if let problem = await checkpointMoved(writer, to: directory, from: previousDirectory) {
                problems.append(problem)
                checkpoint = running.checkpoint
            }
        }
        // What runs now, whatever failed above.
        running = next
        running.checkpoint = checkpoint
        running.pipelines = pipelines.current.map(\.liveConfiguration)
        // Last: a `POST /reload` that removed the section is answered by the server it stops (gracefully).
        if plan.admin == .stop {
            await adminHost?.stop()
            adminToken = nil
        }
        guard problems.isEmpty else { return .failure(problems: problems + [applied(plan, failed: problems)]) }
        func refs(_ keyPath: KeyPath<ReloadPlan.PipelineChange, [Int]>) -> [ReloadResult.StageRef] {
            plan.pipelines.flatMap { change in
                change[keyPath: keyPath].map { .init(pipeline: change.configuration.name, stage: $0, kind: change.configuration.stages[$0].kind) }
            }
        }
        return .success(kept: refs(\.kept), reset: refs(\.reset), added: plan.added.map(\.name), removed: plan.removed)
    }

    /// An added pipeline takes its statistics from the checkpoint's record of that name, if there is
    /// one (e.g. it was removed by an earlier reload), as it would at a start: a record that does not
    /// match is refused, or ignored with `on_mismatch: reset` (a fresh chain).
    private func restoreAdded(_ configuration: PipelineConfiguration, into chain: StageChain) -> Result<StageChain, Problem> {
        guard let writer, let settings = running.checkpoint else { return .success(chain) }
        var ready = chain
        if let record = writer.document.pipeline(named: configuration.name) {
            do {
                try record.restore(into: chain)
                logger.info(
                    "reload: the added pipeline's statistics are restored from the checkpoint", metadata: ["pipeline": "\(configuration.name)"])
            } catch {
                guard settings.onMismatch == .reset else {
                    return .failure(
                        Problem(
                            message: "\(file): pipeline '\(configuration.name)': the checkpoint's statistics of this name do not match: "
                                + "\(error); set checkpoint.on_mismatch: reset to start it fresh; nothing changed"))
                }
                logger.warning(
                    "reload: the checkpoint's statistics do not match the added pipeline; it starts fresh (on_mismatch: reset)",
                    metadata: ["pipeline": "\(configuration.name)", "error": "\(error)"])
                do {
                    ready = try configuration.makeChain()
                } catch {
                    return .failure(Problem(message: "\(file): pipeline '\(configuration.name)': cannot create its stages: \(error)"))
                }
            }
        }
        return .success(ready)
    }

    struct Problem: Error {
        var message: String
    }

    /// Re-binds one pipeline: the running loop is drained, flushed and closed (the others keep
    /// running), and a new loop binds the new endpoints with the kept statistics, the counts, batch
    /// numbers and mode of the old one. When the new sockets cannot be set up, the old configuration
    /// is bound again with the statistics as they were (its `tcp://…:*` endpoints get new ports).
    private func rebind(_ change: ReloadPlan.PipelineChange, chain: StageChain) async -> String? {
        let name = change.configuration.name
        guard let old = pipelines.loop(named: name), let handOver = await launcher.retire(old, removed: false) else {
            return "\(file): pipeline '\(name)': its thread had ended; not re-bound"
        }
        logger.notice("reload: pipeline re-bound", metadata: ["pipeline": "\(name)", "changed": "\(change.rebind.joined(separator: ","))"])
        let saved = handOver.chain.saveState()
        do {
            for index in change.kept { try chain.links[index].stage.restoreState(saved[index]) }
        } catch {
            return await rollBack(old, handOver, "\(file): pipeline '\(name)': cannot carry its statistics over: \(error)")
        }
        chain.continueStatsVersion(after: handOver.chain.statsVersion)
        // A mode switched through the admin endpoint lasts until a reload changes the configured mode.
        let mode = change.configuration.mode == old.liveConfiguration.mode ? handOver.mode : change.configuration.mode
        var record = PipelineStateRecord(name: name, chain: chain)
        if mode != change.configuration.mode { record.mode = mode }
        let loop = launcher.make(
            change.configuration, chain: chain, statistics: old.statistics,
            resuming: .init(previous: old, counts: handOver.counts, nextBatch: handOver.nextBatch, mode: mode, sequences: handOver.sequences))
        do {
            try await launcher.launch(loop)
        } catch {
            return await rollBack(old, handOver, "\(file): pipeline '\(name)': cannot bind its new endpoints: \(error)")
        }
        writer?.adopt(record)
        return nil
    }

    /// Binds `old`'s configuration again with the chain it handed over; returns `problem` (and why
    /// that failed too, if it did).
    private func rollBack(_ old: PipelineLoop, _ handOver: PipelineLoop.HandOver, _ problem: String) async -> String {
        let loop = launcher.make(
            old.liveConfiguration, chain: handOver.chain, statistics: old.statistics,
            resuming: .init(
                previous: old, counts: handOver.counts, nextBatch: handOver.nextBatch, mode: handOver.mode,
                sequences: handOver.sequences))
        do {
            try await launcher.launch(loop)
            return problem + "; it runs on with its old endpoints and statistics"
        } catch {
            pipelines.remove(old)
            return problem + "; binding its old endpoints again failed too (\(error)); the pipeline is stopped"
        }
    }

    /// Stops the removed pipelines (drained, flushed, final snapshot offered) and writes a generation
    /// holding their final statistics, waiting until it is durable (a checkpoint keeps the records of
    /// pipelines it no longer runs). A failed write is logged by the writer and retried with the next.
    private func remove(_ names: [String]) async {
        for name in names {
            guard let loop = pipelines.loop(named: name) else { continue }
            _ = await launcher.retire(loop, removed: true)
            pipelines.remove(loop)
            logger.notice("reload: pipeline removed", metadata: ["pipeline": "\(name)"])
        }
        if let writer, case .failed(let why) = await writer.writeNowAndWait(requestedBy: "reload") {
            logger.error("reload: the generation holding the removed pipelines' final statistics was not written", metadata: ["error": "\(why)"])
        }
    }

    /// A changed `checkpoint.path` (the writer already moved to `directory`): a generation holding every
    /// pipeline's statistics is written there at once. If that write fails, generations go on in the
    /// old directory (the problem is returned).
    private func checkpointMoved(
        _ writer: CheckpointWriter, to directory: CheckpointDirectory,
        from previousDirectory: (CheckpointDirectory, UInt64)
    ) async -> String? {
        let (previous, previousNext) = previousDirectory
        await CheckpointNow.offerSnapshots(of: pipelines.current, logKey: "requested_by", requestedBy: "reload", logger: logger)
        switch await writer.writeNowAndWait(requestedBy: "reload") {
        case .written(let generation):
            logger.notice(
                "reload: checkpoint directory changed",
                metadata: ["from": "\(previous.path)", "to": "\(directory.path)", "file": "\(generation.path)"])
            return nil
        case .failed(let why):
            writer.move(to: previous, nextGeneration: previousNext)
            return "\(file): checkpoint.path: cannot write a generation in \(directory.path): \(why); generations go on in \(previous.path)"
        }
    }

    /// Every pipeline with a stage about to reset offers its statistics, and a generation is written
    /// and waited for: the statistics the reset discards stay on disk. `nil` once written.
    private func checkpointBeforeReset(_ writer: CheckpointWriter, pipelines changes: [ReloadPlan.PipelineChange]) async -> String? {
        let before = writer.lastWrittenGeneration, failuresBefore = writer.writeFailures
        for change in changes where !change.reset.isEmpty {
            guard let loop = pipelines.loop(named: change.configuration.name) else { continue }
            if !(await loop.offerSnapshotNow(timeout: .seconds(5))) {
                return "\(file): pipeline '\(change.configuration.name)': did not offer its statistics within 5 s (output blocked?); "
                    + "a reload that resets stages first checkpoints them; nothing changed"
            }
        }
        writer.writeNow(requestedBy: "reload")
        let deadline = ContinuousClock.now + Self.checkpointWait
        while ContinuousClock.now < deadline {
            if writer.lastWrittenGeneration != before { return nil }
            if writer.writeFailures > failuresBefore { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return "\(file): the checkpoint of the statistics about to reset could not be written (see the checkpoint log lines); nothing changed"
    }

    /// After a failure past the point of no return (a socket taken between the probe and the bind, a
    /// thread that had ended): what the reload did apply, so the answer says exactly what runs now.
    private func applied(_ plan: ReloadPlan, failed problems: [String]) -> String {
        let failed = Set(
            (plan.pipelines.map(\.configuration.name) + plan.added.map(\.name)).filter { name in
                problems.contains { $0.contains("pipeline '\(name)'") }
            })
        var done: [String] = []
        for change in plan.pipelines where !failed.contains(change.configuration.name) {
            done.append("\(change.configuration.name) \(change.rebind.isEmpty ? "reloaded in place" : "re-bound")")
        }
        done += plan.added.filter { !failed.contains($0.name) }.map { "\($0.name) added" }
        done += plan.removed.map { "\($0) removed" }
        return "\(file): the rest of this reload was applied: \(done.isEmpty ? "nothing" : done.joined(separator: ", "))"
    }

    /// Starts the admin server of the new `admin:` section; the old one (if any) stops once the new
    /// one listens. `nil` once listening; otherwise the problem (the old server runs on, nothing changed).
    private func startAdmin(_ settings: AdminConfiguration, on host: AdminHost) async -> String? {
        let token = AdminTokenGate(settings)
        do {
            try await host.start(AdminStartup.settings(settings, token: token))
        } catch {
            let staying = host.address.map { "the admin server stays on \($0)" } ?? "no admin server runs"
            return "\(file): admin.listen: cannot listen on \(error.address): \(error.underlying); \(staying); nothing changed"
        }
        adminToken = token
        return nil
    }

    /// An issue as `normd validate` prints it; one with no position is prefixed with the file.
    private func located(_ issue: ConfigIssue) -> String {
        issue.location == nil ? "\(file): \(issue)" : "\(issue)"
    }
}
