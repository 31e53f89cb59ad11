import Checkpoint
import Foundation
import Logging
import NormConfig
import ServiceLifecycle
import Synchronization
import UnixSignals

/// What every signal means to `normd run` (README, "Signals"):
///
/// | signal | meaning |
/// |---|---|
/// | SIGTERM, SIGINT | graceful stop: intake stops, the last batch is flushed, the output gets at most `shutdown_timeout`, the final checkpoint is written |
/// | the second SIGTERM/SIGINT | the same, but the output wait is skipped (its batches are counted as dropped); the final checkpoint is still written |
/// | SIGHUP | with `security: curve:`, `authorized_keys` is re-read first (issue 11; keys that cannot be read leave the previous ones); then the configuration file is reloaded, all or nothing (`ReloadCoordinator`): statistics of unchanged stages are kept, counts never reset; an invalid file changes nothing |
/// | SIGUSR1 | a checkpoint now (when `checkpoint:` is configured) and a counts line per pipeline |
/// | SIGUSR2 | no meaning; logged and ignored (a stray signal must not kill a daemon holding unsaved statistics) |
/// | SIGPIPE | ignored: a write to a closed stderr or socket fails with EPIPE instead |
/// | SIGQUIT | the default action: terminate with a core dump, no flush, no checkpoint (for debugging a hang) |
///
/// Signals are delivered through swift-service-lifecycle's `UnixSignalsSequence` (a dispatch signal
/// source): the handler runs as ordinary async code, not in a signal context. The ServiceGroup itself
/// traps no signal; this handler starts the shutdown — every pipeline's intake stops at once, then the
/// group shuts its services down one at a time — so it can also see the second stop signal.
final class DaemonSignals: Sendable {
    /// Trapped from before the first socket is bound until the process exits.
    static let trapped: [UnixSignal] = [.sigterm, .sigint, .sighup, .sigusr1, .sigusr2]

    private let pipelines: PipelineSet
    /// Shut down on a stop signal, after every pipeline was asked to stop (`PipelineService`).
    private let group: ServiceGroup
    private let writer: CheckpointWriter?
    private let reporter: CountsReporter
    private let logger: Logger
    private let reloader: ReloadCoordinator?
    private let stopSignals = Atomic<Int>(0)
    /// `security: curve:`, whose authorized_keys SIGHUP re-reads (issue 11).
    private let curve: CurveGate?

    init(
        pipelines: PipelineSet, group: ServiceGroup, writer: CheckpointWriter?, reporter: CountsReporter, reloader: ReloadCoordinator? = nil,
        logger: Logger,
        curve: CurveGate? = nil
    ) {
        self.curve = curve
        self.pipelines = pipelines
        self.group = group
        self.reloader = reloader
        self.writer = writer
        self.reporter = reporter
        self.logger = logger
    }

    /// SIGPIPE ignored, SIGQUIT back to its default action (a parent may have left it ignored or
    /// blocked, and children inherit both). Call before any thread is started.
    static func prepareProcess() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGQUIT, SIG_DFL)
        var quit = sigset_t()
        sigemptyset(&quit)
        sigaddset(&quit, SIGQUIT)
        pthread_sigmask(SIG_UNBLOCK, &quit, nil)
    }

    /// Handles signals until the task is cancelled.
    func handle(_ signals: UnixSignalsSequence) async {
        for await signal in signals {
            switch signal {
            case .sigterm, .sigint: await stop(signal)
            // Its own task: a reload waits for every pipeline's batch boundary, a stop signal must not wait for it.
            // The reload re-reads `authorized_keys` first (issue 11), as `POST /reload` does.
            case .sighup:
                if let reloader {
                    Task { _ = await reloader.reload(requestedBy: "SIGHUP") }
                } else {
                    curve?.rereadAuthorizedKeys(requestedBy: "SIGHUP", logger: logger)
                }
            // Its own task: waiting for the pipelines' snapshots must not delay a stop signal.
            case .sigusr1: Task { await checkpointNow() }
            default: logger.notice("signal has no meaning to normd; ignored", metadata: ["signal": "\(signal)"])
            }
        }
    }

    /// The first stop signal stops every pipeline's intake at once, then starts the group's graceful
    /// shutdown: the group stops its services one at a time, and each pipeline's service waits for its
    /// turn (`PipelineService`) — a service that ends while the group waits for another is, to the
    /// group, one that "finished unexpectedly", and the daemon would exit 1 instead of 0.
    private func stop(_ signal: UnixSignal) async {
        if stopSignals.add(1, ordering: .relaxed).newValue == 1 {
            logger.notice(
                "stopping: intake stopped; flushing the last batch and the output (a second SIGTERM or SIGINT skips the output wait)",
                metadata: ["signal": "\(signal)"])
            pipelines.stopAll()
            await group.triggerGracefulShutdown()
        } else {
            // A third changes nothing more: the checkpoint write is not interrupted (SIGQUIT or
            // SIGKILL end the process without it).
            logger.warning(
                "stopping now: the output wait is skipped, its waiting batches count as dropped; the final checkpoint is still written",
                metadata: ["signal": "\(signal)"])
            pipelines.abandonAll()
        }
    }

    /// SIGUSR1: every pipeline offers its statistics (a pipeline blocked on a full output cannot
    /// within a second: its last offered snapshot is used, and that is logged), then a generation is written.
    private func checkpointNow() async {
        reporter.report()
        guard let writer else {
            logger.notice("no checkpoint configured; none written", metadata: ["signal": "SIGUSR1"])
            return
        }
        await CheckpointNow.offerSnapshots(of: pipelines.current, logKey: "signal", requestedBy: "SIGUSR1", logger: logger)
        writer.writeNow(requestedBy: "SIGUSR1")
    }
}
