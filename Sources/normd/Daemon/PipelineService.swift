import Checkpoint
import Logging
import NormConfig
import Pipeline
import ServiceLifecycle

/// Runs one pipeline's loop inside a ServiceGroup. The group's graceful shutdown (started by a stop
/// signal, `DaemonSignals`, or by a pipeline that ended on its own) stops the loop: intake stops, the
/// last batch is flushed and sent, the sockets closed, before `run()` returns.
///
/// The group shuts services down one at a time, in reverse order of joining, and treats a service
/// that ends while it waits for another as one that "finished unexpectedly" (the daemon then exits 1).
/// So a loop that was asked to stop (a stop signal stops every loop at once) or was retired by a
/// reload ends its service only when the group's shutdown reaches it. Only a loop that ended on its
/// own (a failure) returns at once, which starts the group's shutdown.
struct PipelineService: Service {
    let loop: PipelineLoop

    func run() async throws {
        await withGracefulShutdownHandler {
            await loop.waitUntilFinished()
        } onGracefulShutdown: {
            loop.requestStop()
        }
        if loop.isStopping || loop.isRetired { try? await gracefulShutdown() }
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
