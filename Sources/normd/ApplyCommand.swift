import ArgumentParser
import Checkpoint
import Foundation
import Logging
import NormConfig
import NormCore
import NpyFormat
import StageKit

/// `normd apply`: runs one `.npy` file through a pipeline offline, batch by batch, optionally
/// continuing from and saving to a state file — the same statistics a streaming run would keep.
///
/// Everything is computed in memory first; output and state are written (atomically) only when
/// every step succeeded, so a failed run leaves no file behind and never half-updates the state.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Normalize a 2-D .npy file through a pipeline, optionally loading and saving its statistics.",
        discussion: """
            Exit codes: 0 ok; 64 bad arguments (e.g. --pipeline missing or unknown); 65 bad input data \
            (not a .npy, wrong shape/width/order, non-finite value) or a damaged state file; 66 input \
            missing; 70 a stage validated moments before cannot be created (internal; not expected); 73 cannot write; 78 invalid configuration or a state file that does not match it.
            """
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "The pipeline to run (required when the file has several).")
    var pipeline: String?

    @Option(name: .long, help: "train (use and update statistics) or infer (use them only). Default: the pipeline's mode.")
    var mode: ModeArgument?

    @Option(name: .long, help: "A 2-D C-order .npy file of <f4 or <f8 values, one row per sample.")
    var input: String

    @Option(name: .long, help: "Where to write the normalized rows (<f4 .npy).")
    var output: String

    @Option(name: .long, help: "State file: statistics are loaded from it if it exists, and saved to it in train mode.")
    var state: String?

    @Option(name: .long, help: "Rows per batch (default: the pipeline's batch.size).")
    var batchSize: Int?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let batchSize, !(1...ConfigLimits.maxBatchSize).contains(batchSize) {
            throw ValidationError("--batch-size must be from 1 to \(ConfigLimits.maxBatchSize) (Docs/LIMITS.md), got \(batchSize)")
        }
    }

    func run() throws {
        let logger = logging.makeLogger(label: "normd.apply")
        do {
            try apply(logger: logger)
        } catch {
            StandardError.print("normd apply: \(error.message)")
            throw error.status
        }
    }

    private func apply(logger: Logger) throws(CommandFailure) {
        // Before any work, so a bad target costs nothing; `write` checks again just before writing.
        try OutputTarget.check(output, option: "--output")
        if let state { try OutputTarget.check(state, option: "--state") }
        let pipeline = try selectPipeline(logger: logger)
        let chain: StageChain
        do {
            chain = try pipeline.makeChain()
        } catch {
            throw CommandFailure(ExitStatus.software, "pipeline '\(pipeline.name)': cannot create its stages: \(error)")
        }
        let batch = try InputFile.read(input, features: pipeline.features)

        var stateDocument: StateDocument?
        if let state {
            stateDocument = try loadState(state, pipeline: pipeline.name, into: chain, logger: logger)
        }

        let requested = mode?.mode ?? pipeline.mode
        let run: BatchedRun
        do {
            run = try BatchedRun.process(batch, through: chain, mode: requested, batchSize: batchSize ?? pipeline.batch.size)
        } catch {
            throw CommandFailure(ExitStatus.dataError, "\(input): \(error)")
        }

        // Encode everything before writing anything.
        let outputBytes = Npy.encode(run.output)
        var stateBytes: [UInt8]?
        if let state, requested == .train {
            var document = stateDocument ?? StateDocument()
            document.upsert(PipelineStateRecord(name: pipeline.name, chain: chain))
            do {
                stateBytes = try StateFile.encode(document)
            } catch {
                throw CommandFailure(ExitStatus.dataError, "\(state): \(error)")
            }
        }
        try write(outputBytes, to: output, option: "--output")
        if let state, let stateBytes { try write(stateBytes, to: state, option: "--state") }

        var summary = "pipeline '\(pipeline.name)' (\(requested)): \(batch.rows) rows in \(run.batches) batch\(run.batches == 1 ? "" : "es")"
        summary += ", \(run.downgraded) downgraded to infer"
        StandardError.print("normd apply: " + summary)
        logger.info(
            "applied",
            metadata: [
                "pipeline": "\(pipeline.name)", "rows": "\(batch.rows)", "batches": "\(run.batches)",
                "downgraded": "\(run.downgraded)", "output": "\(output)",
            ])
    }

    /// The chosen pipeline, resolved (its stages bound to the built-ins and the configuration's plugins).
    private func selectPipeline(logger: Logger) throws(CommandFailure) -> PipelineConfiguration {
        let result = ConfiguredStages.resolve(file: config).validation
        for warning in result.warnings { logger.warning("\(warning.description)") }
        guard let configuration = result.configuration else {
            throw CommandFailure(ExitStatus.configError, "invalid configuration:\n" + result.errors.map(\.description).joined(separator: "\n"))
        }
        let names = configuration.pipelines.map(\.name)
        if let pipeline {
            guard let chosen = configuration.pipeline(named: pipeline) else {
                throw CommandFailure(ExitStatus.usage, "\(config) has no pipeline '\(pipeline)' (pipelines: \(names.joined(separator: ", ")))")
            }
            return chosen
        }
        guard configuration.pipelines.count == 1 else {
            throw CommandFailure(
                ExitStatus.usage, "\(config) has \(names.count) pipelines; choose one with --pipeline (\(names.joined(separator: ", ")))")
        }
        return configuration.pipelines[0]
    }

    /// Restores `pipeline`'s statistics from `path` if the file and the pipeline's record exist.
    private func loadState(_ path: String, pipeline: String, into chain: StageChain, logger: Logger) throws(CommandFailure) -> StateDocument? {
        let document: StateDocument?
        do {
            document = try StateFile.read(path: path)
        } catch {
            throw CommandFailure(ExitStatus.dataError, error.description)
        }
        guard let document, let record = document.pipeline(named: pipeline) else {
            logger.info("no saved statistics; starting fresh", metadata: ["state": "\(path)", "pipeline": "\(pipeline)"])
            return document
        }
        do {
            try record.restore(into: chain)
        } catch {
            throw CommandFailure(ExitStatus.configError, "\(path): \(error)")
        }
        return document
    }

    private func write(_ bytes: [UInt8], to path: String, option: String) throws(CommandFailure) {
        try OutputTarget.check(path, option: option)
        do {
            try AtomicFileWriter.write(bytes, to: path)
        } catch {
            throw CommandFailure(ExitStatus.cannotCreate, "\(path): cannot write: \(error)")
        }
    }
}

/// `--mode` values.
enum ModeArgument: String, ExpressibleByArgument, CaseIterable {
    case train, infer
    var mode: Mode { self == .train ? .train : .infer }
}
