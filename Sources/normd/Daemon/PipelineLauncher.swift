import AdminServer
import Checkpoint
import Logging
import NormConfig
import Pipeline
import ServiceLifecycle
import StageKit

/// Makes and starts a pipeline's loop the same way at start and on reload (a re-bound or added
/// pipeline): checkpoint hook, metrics, CURVE, `statistics_from`; then registers the started loop
/// with the running set, the admin server and the service group (a pipeline that ends on its own
/// stops the daemon, as at start).
struct PipelineLauncher: Sendable {
    let logger: Logger
    let writer: CheckpointWriter?
    let cadence: CheckpointCadence
    let curve: CurveGate?
    let admin: DaemonAdmin?
    let group: ServiceGroup
    let pipelines: PipelineSet

    /// A loop for `configuration`, not started. An evaluation pipeline (`statistics_from`) takes no
    /// part in checkpoints. `resuming` carries a replaced loop's counts, batch numbers and mode.
    /// Its metric series are registered here (idempotent: a re-bound pipeline keeps its series, an
    /// added one gets the same names and labels as at start, new input indices get theirs).
    func make(
        _ configuration: PipelineConfiguration, chain: StageChain, statistics: StatisticsLink?,
        resuming: PipelineLoop.Resume? = nil
    ) -> PipelineLoop {
        PipelineLoop(
            configuration: configuration, chain: chain, logger: logger,
            checkpoints: configuration.statisticsFrom != nil ? nil : writer.map { CheckpointHook(sink: $0, cadence: cadence) },
            metrics: admin?.metrics.register(
                pipeline: configuration.name, inputs: configuration.inputs.count, syncMembers: configuration.sync?.members.count), curve: curve,
            statistics: statistics,
            resuming: resuming)
    }

    /// Binds or connects `loop`'s sockets, then makes it one of the running pipelines.
    /// - Throws: `DaemonError.socketSetup` naming the endpoint; the loop's thread has then ended.
    func launch(_ loop: PipelineLoop) async throws {
        try await loop.start()
        pipelines.add(loop)
        admin?.started(loop)
        await group.addServiceUnlessShutdown(
            .init(
                service: PipelineService(loop: loop), successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup))
    }

    /// Stops `loop` for good (a reload re-binds or removes its pipeline): out of the admin server's
    /// view first (its stop is not the daemon's shutdown), then intake stops, the partial batch is
    /// flushed and sent, the final snapshot offered, the sockets closed. Returns what it handed over.
    /// It stays in `pipelines` until the caller removes it or `launch` replaces it (same name).
    func retire(_ loop: PipelineLoop, removed: Bool) async -> PipelineLoop.HandOver? {
        admin?.retired(loop, removed: removed)
        loop.retire()
        await loop.waitUntilFinished()
        return loop.handOver
    }
}
