import AdminServer
import ArgumentParser
import Checkpoint
import DynamicStages
import Logging
import NormConfig
import Pipeline
import ServiceLifecycle
import StageKit
import UnixSignals
import ZeroMQ

/// `normd run`: the daemon. One thread per pipeline moves rows from ZeroMQ inputs through the
/// stage chain to the output; SIGTERM/SIGINT stop intake, flush the partial batch, give the output
/// at most `shutdown_timeout`, write the final checkpoint and exit 0 — or 73 when that checkpoint
/// could not be written. Every other signal's meaning is in `DaemonSignals`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon on a configuration file.",
        discussion:
            "Exit codes: 0 after a graceful shutdown (final checkpoint written, or none configured), 65 when checkpoint generations exist but none is readable, 69 when a socket cannot be bound or connected, 70 if a stage validated moments before cannot be created (internal; not expected), 73 when the checkpoint directory cannot be created or written, or the final checkpoint failed, 78 on an invalid configuration, a checkpoint that does not match it, or a newest checkpoint generation written by a newer normd."
    )

    @Option(name: .long, help: "The YAML configuration.")
    var config: String

    @Option(name: .long, help: "Seconds between the counts lines in the log.")
    var countsInterval: Double = 5

    @Flag(name: .long, help: "Ignore the checkpoint directory's statistics: every pipeline starts fresh (a fresh generation is written at once).")
    var resetState = false

    @OptionGroup var logging: LoggingOptions

    /// `--counts-interval` in seconds: below 0.1 s the reporter spins (0.0001 took 117 % CPU), and
    /// the interval becomes whole milliseconds, which `inf` or `1e300` would trap converting.
    static let countsIntervals = 0.1...86_400.0

    func validate() throws {
        guard Self.countsIntervals.contains(countsInterval) else {
            throw ValidationError("--counts-interval must be from 0.1 to 86400 seconds (Docs/LIMITS.md), got \(countsInterval)")
        }
    }

    func run() async throws {
        DaemonSignals.prepareProcess()
        AllocatorPolicy.apply()
        let logger = logging.makeLogger(label: "normd", defaultLevel: .info)
        let validation = ConfiguredStages.resolve(file: config).validation
        for warning in validation.warnings { logger.warning("\(warning)") }
        guard let configuration = validation.configuration else {
            StandardError.print(validation.errors.map(\.description).joined(separator: "\n"))
            throw ExitStatus.configError
        }
        PluginLoadLog.log(StagePlugins.loadedLibraries, to: logger)
        let offline = configuration.pipelines.filter { $0.output == nil }
        guard offline.isEmpty else {
            StandardError.print(
                offline.map {
                    "\($0.location.map { "\($0): " } ?? "")pipeline '\($0.name)': has no 'inputs' and 'output'; `normd run` needs both for every pipeline (see Config/reference.yaml)"
                }.joined(separator: "\n"))
            throw ExitStatus.configError
        }
        var daemonPipelines = configuration.pipelines

        // The first chain of each pipeline takes the stages validation created: nothing is created
        // again, so the start stops here only if that ever changes and a plugin's `create` fails.
        var chains: [StageChain] = []
        for pipeline in daemonPipelines {
            do {
                chains.append(try pipeline.makeChain())
            } catch {
                StandardError.print("normd run: pipeline '\(pipeline.name)': cannot create its stages: \(error)")
                throw ExitStatus.software
            }
        }
        // The group starts now when `admin:` is configured, so /readyz answers during the restore.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [ServiceGroupConfiguration.ServiceConfiguration](), logger: logger))
        // With or without `admin:` (a reload may add the section): the metrics and the admin host exist.
        let admin = DaemonAdmin(pipelines: daemonPipelines, stageKinds: chains.map { $0.stages.map(\.kind) }, logger: logger)
        let adminHost = AdminHost(backend: admin, metrics: admin.metrics, logger: logger)
        let adminToken = configuration.admin.flatMap(AdminTokenGate.init)
        let adminRun = try await AdminStartup.start(configuration.admin, token: adminToken, host: adminHost, group: group, logger: logger)
        // Restore before any loop starts, so the first batch already uses the saved statistics.
        var checkpointWriter: CheckpointWriter?
        var cadence = CheckpointCadence(everyBatches: 0, every: nil)
        if let settings = configuration.checkpoint {
            do {
                // An evaluation pipeline (`statistics_from`) has no checkpoint of its own.
                let own = zip(daemonPipelines, chains).filter { $0.0.statisticsFrom == nil }
                let writer = try CheckpointStartup.prepare(
                    settings, pipelines: own.map { ($0.name, $1) },
                    resetState: resetState, logger: logger)
                checkpointWriter = writer
                cadence = CheckpointCadence(everyBatches: settings.everyBatches, every: settings.every)
            } catch {
                StandardError.print(error.message)
                throw error.status
            }
        }
        let modes = RestoredModes.apply(checkpointWriter?.document, to: &daemonPipelines, logger: logger)
        admin.statisticsRestored(writer: checkpointWriter, overrides: modes)

        // Trapped before the first socket exists: from here on a stop signal is always graceful.
        let signals = await UnixSignalsSequence(trapping: DaemonSignals.trapped)
        let links = StatisticsLink.links(for: daemonPipelines, chains: chains)
        let curve = configuration.curve.map(CurveGate.init)
        let pipelines = PipelineSet()
        let launcher = PipelineLauncher(
            logger: logger, writer: checkpointWriter, cadence: cadence, curve: curve, admin: admin,
            group: group, pipelines: pipelines)
        do {
            for (pipeline, chain) in zip(daemonPipelines, chains) {
                try await launcher.launch(launcher.make(pipeline, chain: chain, statistics: links[pipeline.name]))
            }
        } catch {
            logger.critical("cannot start: \(error)")
            pipelines.stopAll()
            for loop in pipelines.current { await loop.waitUntilFinished() }
            throw ExitStatus.unavailable
        }
        let loops = pipelines.current
        checkpointWriter?.start()
        // Announced from inside the group: by then SIGTERM/SIGINT are trapped, so a supervisor (or
        // a test) that signals as soon as it reads "normd running" always gets a graceful shutdown.
        let announcement = StartupAnnouncement(
            logger: logger,
            metadata: [
                "version": "\(NormdCommand.version)", "config": "\(config)", "pipelines": "\(loops.map(\.configuration.name).joined(separator: ","))",
                "libzmq": "\(zmqVersion().major).\(zmqVersion().minor).\(zmqVersion().patch)",
            ])

        let reporter = CountsReporter(
            pipelines: pipelines, interval: .milliseconds(Int(countsInterval * 1000)), logger: logger,
            checkpoints: checkpointWriter)
        let reloader = ReloadCoordinator(
            file: config, running: configuration, pipelines: pipelines, launcher: launcher, logger: logger,
            curve: curve, adminToken: adminToken, adminHost: adminHost
        ) {
            [admin] result in admin.record(reload: result)
        }
        admin.attach(reloader: reloader)
        let handler = DaemonSignals(
            pipelines: pipelines, group: group, writer: checkpointWriter, reporter: reporter, reloader: reloader, logger: logger,
            curve: curve)
        let signalTask = Task { await handler.handle(signals) }
        // A stop signal (DaemonSignals: the group itself traps none, so a second one is seen too) or
        // a pipeline that failed shuts the group down.
        // Each pipeline's service joined the group when it started (`PipelineLauncher.launch`).
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: reporter), .init(service: announcement, successTerminationBehavior: .ignore)]
        for service in services { await group.addServiceUnlessShutdown(service) }
        // An admin server that fails while running stops the daemon gracefully; exit 69 after the final checkpoint.
        var adminFailure: AdminServer.ListenError?
        do {
            if let adminRun { try await adminRun.value } else { try await group.run() }
        } catch let error as AdminServer.ListenError {
            logger.critical("stopping: \(error)")
            adminFailure = error
        }

        // A pipeline launched while a stop signal started the shutdown may never have joined the group
        // (`addServiceUnlessShutdown`); its loop was stopped as it joined (`PipelineSet.add`).
        for loop in pipelines.current { await loop.waitUntilFinished() }
        reporter.report(final: true)
        // Every loop has flushed its last batch, offered its final snapshot, closed its sockets and
        // terminated its own ZeroMQ context by now.
        let final = await checkpointWriter?.finish()
        defer { signalTask.cancel() } // signals stay trapped until the last line is written
        try stopped(final, writeFailures: checkpointWriter?.writeFailures ?? 0, logger: logger)
        if adminFailure != nil { throw ExitStatus.unavailable }
    }

    /// The last log line: which generation the shutdown wrote, or that none was — and exit 73 when
    /// the final checkpoint failed (the statistics since the last generation are lost).
    private func stopped(_ final: CheckpointWriter.FinalCheckpoint?, writeFailures: Int, logger: Logger) throws {
        switch final {
        case nil:
            logger.info("normd stopped")
        case .written(let generation):
            logger.info("normd stopped", metadata: ["final_checkpoint": "\(generation.path)"])
        case .unchanged:
            logger.info("normd stopped", metadata: ["final_checkpoint": "none (statistics unchanged since the restored generation)"])
        case .failed:
            logger.error(
                "normd stopped: the final checkpoint was not written",
                metadata: [
                    "final_checkpoint": "none", "exit_code": "73", "checkpoint_write_failures": "\(writeFailures)",
                ])
            throw ExitStatus.cannotCreate
        }
    }
}
