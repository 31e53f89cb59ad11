import Checkpoint
import Logging
import NormConfig
import NormCore

/// A mode switched through `POST /pipelines/{name}/mode` is kept in checkpoints (the state file's
/// optional `mode`): a restart comes back in it, and says so. `--reset-state` starts from a fresh
/// document, which has none.
enum RestoredModes {
    /// Sets each pipeline's starting mode from `document`; returns the overrides it found.
    static func apply(_ document: StateDocument?, to pipelines: inout [PipelineConfiguration], logger: Logger) -> [String: Mode] {
        var overrides: [String: Mode] = [:]
        for index in pipelines.indices {
            guard let mode = document?.pipeline(named: pipelines[index].name)?.mode else { continue }
            overrides[pipelines[index].name] = mode
            logger.notice(
                "mode restored from the checkpoint (switched at run time; --reset-state returns to the configured mode)",
                metadata: [
                    "pipeline": "\(pipelines[index].name)", "mode": "\(mode.rawValue)", "configured": "\(pipelines[index].mode.rawValue)",
                ])
            pipelines[index].mode = mode
        }
        return overrides
    }
}
