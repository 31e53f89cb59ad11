import Checkpoint
import Logging
import NormConfig
import Pipeline
import ServiceLifecycle

/// Runs one pipeline's loop inside a ServiceGroup. Only this service reacts to the group's graceful
/// shutdown (started when a pipeline ends, e.g. after `DaemonSignals` stopped them); the loop then stops intake, flushes, sends and closes before `run()` returns, so the
/// group never sees it finish "unexpectedly" mid-shutdown.
struct PipelineService: Service {
    let loop: PipelineLoop

    func run() async throws {
        await withGracefulShutdownHandler {
            await loop.waitUntilFinished()
        } onGracefulShutdown: {
            loop.requestStop()
        }
        // Re-bound or removed by a reload: its end must not stop the daemon, so the service lasts
        // until the group's own shutdown.
        if loop.isRetired { try? await gracefulShutdown() }
    }
}

/// Logs every pipeline's counters in one line every `interval` until shutdown — the daemon's
/// view of accepted, rejected, dropped, gaps and batches until metrics are exported. `log_lines_dropped`
/// and `checkpoint_write_failures` are process-wide: lines stderr refused, checkpoint writes that failed
/// (a line may itself be dropped; the next one that gets through carries the total).
struct CountsReporter: Service {
    let pipelines: PipelineSet
    let interval: Duration
    let logger: Logger
    /// Adds `checkpoint_write_failures` (process-wide) to each line when checkpoints are configured.
    var checkpoints: CheckpointWriter?

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                report()
            }
        }
    }

    func report(final: Bool = false) {
        for loop in pipelines.current {
            var metadata: Logger.Metadata = [
                "pipeline": "\(loop.configuration.name)", "counts": "\(loop.board.snapshot.summary)",
                "log_lines_dropped": "\(StandardErrorWriter.droppedLines)",
            ]
            if let checkpoints { metadata["checkpoint_write_failures"] = "\(checkpoints.writeFailures)" }
            logger.info(final ? "final counts" : "counts", metadata: metadata)
        }
    }
}

/// Logs "normd running" once the service group has started (the signals were trapped before the
/// first socket was bound).
struct StartupAnnouncement: Service {
    let logger: Logger
    let metadata: Logger.Metadata

    func run() async throws {
        logger.info("normd running", metadata: metadata)
    }
}
