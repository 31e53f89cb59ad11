import AdminServer
import Checkpoint
import NormConfig
import NormCore
import Pipeline

extension PipelineRunner {
    /// Joins the pipeline's sync group (`sync:`), binding its ROUTER in the pipeline's context; a
    /// pipeline that does not train (mode infer) takes no part and uses its current statistics.
    func attachSyncGroup() throws {
        guard let sync = configuration.sync, configuration.mode == .train else { return }
        do {
            let guarding = SocketFactory.Guarding(pipeline: configuration.name, index: -2, board: board, logger: logger, curve: curve)
            let member = try SyncMember(
                configuration: sync, chain: engine.chain, context: context, logger: logger, metrics: control.histograms?.sync,
                guarding: guarding, liveness: control)
            if let restored = checkpointWriter?.syncStep(of: configuration.name) { member.resume(at: restored, chain: engine.chain) }
            syncMember = member
            engine.synchronizer = member
        } catch {
            throw DaemonError.socketSetup(pipeline: configuration.name, "sync member \(sync.members[sync.rank]): \(error)")
        }
    }
}
