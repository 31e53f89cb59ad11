import Logging
import NormConfig

/// A checkpoint on request (SIGUSR1, `POST /checkpoint`): first every pipeline offers its current
/// statistics, then the writer writes a generation.
enum CheckpointNow {
    /// Asks every pipeline for a snapshot and waits up to a second each: a pipeline blocked on a
    /// full output cannot answer in time, its last offered snapshot is used, and that is logged
    /// (`logKey=requestedBy`, e.g. `signal=SIGUSR1`).
    static func offerSnapshots(of loops: [PipelineLoop], logKey: String, requestedBy: String, logger: Logger) async {
        for loop in loops where !(await loop.offerSnapshotNow(timeout: .seconds(1))) {
            logger.notice(
                "pipeline busy; the checkpoint holds its last offered statistics",
                metadata: ["pipeline": "\(loop.configuration.name)", Logger.Metadata.Key(logKey): "\(requestedBy)"])
        }
    }
}
