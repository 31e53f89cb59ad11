import ArgumentParser
import Checkpoint
import Logging
import NormConfig
import Pipeline
import ServiceLifecycle
import StageKit
import UnixSignals
import ZeroMQ

/// `normd run`: the daemon. One thread per pipeline moves rows from ZeroMQ inputs through the
/// stage chain to the output; SIGTERM/SIGINT stop intake, flush the partial batch, send it, close
/// the sockets with a bounded linger, terminate the ZeroMQ context last and exit 0.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon on a configuration file.",
        discussion: "Exit codes: 0 after a graceful shutdown, 65 when checkpoint generations exist but none is readable, 69 when a socket cannot be bound or connected, 73 when the checkpoint directory cannot be created or written, 78 on an invalid configuration or a checkpoint that does not match it."
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
        let logger = logging.makeLogger(label: "normd", defaultLevel: .info)
        let (validation, registry) = ConfiguredStages.validate(file: config)
        for warning in validation.warnings { logger.warning("\(warning)") }
        guard let configuration = validation.configuration else {
            StandardError.print(validation.errors.map(\.description).joined(separator: "\n"))
            throw ExitStatus.configError
        }
        let offline = configuration.pipelines.filter { $0.output == nil }
        guard offline.isEmpty else {
            StandardError.print(offline.map {
                "\($0.location.map { "\($0): " } ?? "")pipeline '\($0.name)': has no 'inputs' and 'output'; `normd run` needs both for every pipeline (see Config/reference.yaml)"
            }.joined(separator: "\n"))
            throw ExitStatus.configError
        }
        let daemonPipelines = configuration.pipelines

        var chains: [StageChain] = []
        do {
            chains = try daemonPipelines.map { try $0.makeChain(registry: registry) }
        } catch {
            StandardError.print("\(error)")
            throw ExitStatus.configError
        }
        // Restore before any loop starts, so the first batch already uses the saved statistics.
        var checkpointWriter: CheckpointWriter?
        var hook: CheckpointHook?
        if let settings = configuration.checkpoint {
            do {
                let writer = try CheckpointStartup.prepare(settings, pipelines: zip(daemonPipelines, chains).map { ($0.name, $1) },
                                                           resetState: resetState, logger: logger)
                checkpointWriter = writer
                hook = CheckpointHook(sink: writer, cadence: CheckpointCadence(everyBatches: settings.everyBatches, every: settings.every))
            } catch {
                StandardError.print(error.message)
                throw error.status
            }
        }

        let context = try ZMQContext()
        var loops: [PipelineLoop] = []
        do {
            for (pipeline, chain) in zip(daemonPipelines, chains) {
                let loop = PipelineLoop(configuration: pipeline, chain: chain,
                                        context: context, logger: logger, checkpoints: hook)
                loops.append(loop)
                try await loop.start()
            }
        } catch {
            logger.critical("cannot start: \(error)")
            for loop in loops { loop.requestStop() }
            for loop in loops { await loop.waitUntilFinished() }
            context.terminate()
            throw ExitStatus.unavailable
        }
        checkpointWriter?.start()
        // Announced from inside the group: by then SIGTERM/SIGINT are trapped, so a supervisor (or
        // a test) that signals as soon as it reads "normd running" always gets a graceful shutdown.
        let announcement = StartupAnnouncement(logger: logger, metadata: [
            "config": "\(config)", "pipelines": "\(loops.map(\.configuration.name).joined(separator: ","))",
            "libzmq": "\(zmqVersion().major).\(zmqVersion().minor).\(zmqVersion().patch)",
        ])

        let reporter = CountsReporter(loops: loops, interval: .milliseconds(Int(countsInterval * 1000)), logger: logger)
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            loops.map { .init(service: PipelineService(loop: $0), successTerminationBehavior: .gracefullyShutdownGroup,
                              failureTerminationBehavior: .gracefullyShutdownGroup) }
            + [.init(service: reporter), .init(service: announcement, successTerminationBehavior: .ignore)]
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()

        reporter.report(final: true)
        // Every loop has flushed its last batch and offered its final snapshot by now.
        await checkpointWriter?.finish()
        // Every socket is closed by now (each loop closed its own); terminating last cannot hang.
        context.terminate()
        logger.info("normd stopped")
    }
}
