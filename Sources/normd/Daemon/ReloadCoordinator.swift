import Checkpoint
import Logging
import NormConfig
import StageKit

/// Reloads the configuration file of `normd run` into the running daemon (SIGHUP; the admin
/// server's `POST /reload` calls `reload()` too), all or nothing:
///
/// 1. the file is read and resolved completely, exactly as `normd validate` does (`ConfiguredStages`);
///    `plugins:` may load more libraries, a loaded one is never unloaded;
/// 2. `ReloadPlan` compares it with the running configuration: which stages keep their statistics,
///    which reset, and what a reload cannot take over (refused, "needs a restart");
/// 3. every new chain is built (fresh statistics) before anything changes;
/// 4. if a stage is about to reset and checkpoints are on, a generation holding the statistics as
///    they are now is written first (the reload fails, changing nothing, if that write fails);
/// 5. each pipeline's thread takes its new chain over at a batch boundary (`PipelineLoop.reload`),
///    copying the kept stages' statistics; counts are never reset.
///
/// Any problem before step 5 leaves the running configuration untouched; every located message is
/// logged, then `msg="reload failed"`. One reload runs at a time; a second waits for the first.
actor ReloadCoordinator {
    private let file: String
    private var running: NormdConfiguration
    private let loops: [PipelineLoop]
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

    /// With `admin.token_file`, which every reload re-reads first too.
    private let adminToken: AdminTokenGate?

    init(file: String, running: NormdConfiguration, loops: [PipelineLoop], writer: CheckpointWriter?, logger: Logger,
         curve: CurveGate? = nil, adminToken: AdminTokenGate? = nil, finished: @escaping @Sendable (ReloadResult) -> Void = { _ in }) {
        self.finished = finished
        self.adminToken = adminToken
        self.curve = curve
        self.file = file
        self.running = running
        self.loops = loops
        self.writer = writer
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
                logger.info("reload: statistics kept", metadata: ["pipeline": "\(stage.pipeline)", "stage": "\(stage.stage)", "kind": "\(stage.kind)"])
            }
            for stage in reset {
                logger.notice("reload: statistics reset", metadata: ["pipeline": "\(stage.pipeline)", "stage": "\(stage.stage)", "kind": "\(stage.kind)"])
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
        var chains: [StageChain] = []
        for change in plan.pipelines {
            do {
                chains.append(try change.configuration.makeChain())
            } catch {
                return .failure(problems: ["\(file): pipeline '\(change.configuration.name)': cannot create its stages: \(error)"])
            }
        }
        if let writer, plan.pipelines.contains(where: { !$0.reset.isEmpty }) {
            if let problem = await checkpointBeforeReset(writer, pipelines: plan.pipelines) { return .failure(problems: [problem]) }
        }
        var problems: [String] = []
        for ((loop, change), chain) in zip(zip(loops, plan.pipelines), chains) {
            if let problem = await loop.reload(to: change.configuration, chain: chain, keeping: change.kept) { problems.append(problem) }
        }
        guard problems.isEmpty else { return .failure(problems: problems) }
        running = next
        func refs(_ keyPath: KeyPath<ReloadPlan.PipelineChange, [Int]>) -> [ReloadResult.StageRef] {
            plan.pipelines.flatMap { change in
                change[keyPath: keyPath].map { .init(pipeline: change.configuration.name, stage: $0, kind: change.configuration.stages[$0].kind) }
            }
        }
        return .success(kept: refs(\.kept), reset: refs(\.reset), added: [], removed: [])
    }

    /// Every pipeline with a stage about to reset offers its statistics, and a generation is written
    /// and waited for: the statistics the reset discards stay on disk. `nil` once written.
    private func checkpointBeforeReset(_ writer: CheckpointWriter, pipelines: [ReloadPlan.PipelineChange]) async -> String? {
        let before = writer.lastWrittenGeneration, failuresBefore = writer.writeFailures
        for (loop, change) in zip(loops, pipelines) where !change.reset.isEmpty {
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

    /// An issue as `normd validate` prints it; one with no position is prefixed with the file.
    private func located(_ issue: ConfigIssue) -> String {
        issue.location == nil ? "\(file): \(issue)" : "\(issue)"
    }
}
