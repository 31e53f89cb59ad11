import Checkpoint
import Logging
import NormConfig
import Pipeline
import StageKit

/// Restores every pipeline's statistics from the newest valid checkpoint generation before the
/// loops start, and prepares the writer that will save the following ones.
///
/// - A damaged newest generation is logged (file and reason) and an older one is used.
/// - Generations that exist but none readable: refused (exit 65) — starting fresh silently would make
///   the trainer see the normalization jump; `--reset-state` overrides.
/// - A pipeline whose stages no longer match the checkpoint: refused (exit 78) naming the pipeline
///   and stage, unless `--reset-state` or `on_mismatch: reset` (then logged, and that pipeline fresh).
/// - A pipeline absent from the checkpoint starts fresh (logged). Pipelines in the checkpoint but
///   not in the configuration are carried over unchanged into later generations.
enum CheckpointStartup {
    static func prepare(
        _ settings: CheckpointConfiguration, pipelines: [(name: String, chain: StageChain)],
        resetState: Bool, logger: Logger
    ) throws(CommandFailure) -> CheckpointWriter {
        let directory = CheckpointDirectory(path: settings.directory)
        do {
            try directory.create()
        } catch {
            throw CommandFailure(ExitStatus.cannotCreate, error.description)
        }
        for leftover in directory.removeTemporaryFiles() {
            logger.notice("removed the temporary file of an interrupted checkpoint write", metadata: ["file": "\(leftover)"])
        }
        let nextGeneration: UInt64
        let newestOnDisk: CheckpointDirectory.Generation?
        do {
            let listing = try directory.listing()
            for ignored in listing.ignored {
                logger.warning("checkpoint file name ignored", metadata: ["file": "\(ignored.name)", "reason": "\(ignored.reason)"])
            }
            newestOnDisk = listing.generations.last
            nextGeneration = try listing.nextGeneration()
        } catch {
            throw CommandFailure(ExitStatus.cannotCreate, error.description)
        }

        var loaded: CheckpointDirectory.Loaded?
        if resetState {
            logger.warning(
                "--reset-state: checkpoints ignored; every pipeline starts from fresh statistics",
                metadata: ["checkpoint_dir": "\(directory.path)"])
        } else {
            do {
                loaded = try directory.loadNewestValid()
            } catch .writtenByNewerNormd(let error) {
                throw CommandFailure(
                    ExitStatus.configError, "\(CheckpointError.writtenByNewerNormd(error)); start with --reset-state to discard them")
            } catch {
                throw CommandFailure(ExitStatus.dataError, "\(error); start with --reset-state to discard them")
            }
        }
        if let loaded {
            for failure in loaded.skipped {
                logger.error("checkpoint generation unreadable; falling back to an older one", metadata: ["error": "\(failure)"])
            }
            logger.info("checkpoint loaded", metadata: ["file": "\(loaded.generation.path)", "generation": "\(loaded.generation.number)"])
            if let newestOnDisk, newestOnDisk.number > loaded.generation.number {
                // The statistics are older than the newest file claims: say so once, plainly.
                logger.warning(
                    "restored a checkpoint generation older than the newest in the directory",
                    metadata: ["loaded": "\(loaded.generation.path)", "newest": "\(newestOnDisk.path)"])
            }
            // A crash between a write and its prune leaves one generation too many, and each such
            // crash adds one. Prune now — but only when the newest file was the one loaded: after
            // a fallback, counting files could delete the only readable generation.
            if loaded.skipped.isEmpty {
                for file in directory.prune(keep: settings.keep) {
                    logger.notice("pruned a checkpoint generation left by an interrupted run", metadata: ["file": "\(file)"])
                }
            }
        }

        var document = loaded?.document ?? StateDocument()
        var refusals: [String] = []
        var resetAny = resetState
        for (name, chain) in pipelines {
            guard let loaded, let record = loaded.document.pipeline(named: name) else {
                if loaded != nil {
                    logger.notice("pipeline not in the checkpoint; starting from fresh statistics", metadata: ["pipeline": "\(name)"])
                }
                document.upsert(PipelineStateRecord(name: name, chain: chain))
                continue
            }
            do {
                try record.restore(into: chain)
                logger.info(
                    "statistics restored (momentum, gamma/beta and clipping come from the configuration; they are not part of the fingerprint)",
                    metadata: ["pipeline": "\(name)", "generation": "\(loaded.generation.number)"])
            } catch {
                guard settings.onMismatch == .reset else {
                    refusals.append(
                        "normd run: checkpoint \(loaded.generation.path): \(error); to discard the saved statistics start with --reset-state or set checkpoint.on_mismatch: reset"
                    )
                    continue
                }
                logger.warning(
                    "checkpoint does not match the configuration; pipeline starts from fresh statistics (on_mismatch: reset)",
                    metadata: ["pipeline": "\(name)", "error": "\(error)"])
                resetAny = true
            }
            document.upsert(PipelineStateRecord(name: name, chain: chain))
        }
        guard refusals.isEmpty else { throw CommandFailure(ExitStatus.configError, refusals.joined(separator: "\n")) }

        var next = nextGeneration
        if resetAny {
            // Make the reset durable now, so a crash before the first snapshot does not bring the
            // discarded statistics back.
            do {
                let written = try directory.write(document, generation: next)
                directory.prune(keep: settings.keep)
                logger.info("checkpoint written after reset", metadata: ["file": "\(written.path)"])
                next += 1
            } catch {
                throw CommandFailure(ExitStatus.cannotCreate, error.description)
            }
        }
        return CheckpointWriter(
            directory: directory, keep: settings.keep, document: document, nextGeneration: next,
            writeAtFinish: loaded == nil && !resetAny, logger: logger)
    }
}
