public import NormCore
public import StageKit

/// `statistics_from: NAME` (issue 9 §5): an evaluation pipeline that normalizes its rows with the
/// live statistics of the training pipeline NAME and never changes them.
///
/// Why the checks: the evaluation chain restores NAME's saved stage states batch by batch, which is
/// only meaningful — and only possible — when both chains have the same row width and, position by
/// position, the same kind, columns and checkpoint fingerprint (exactly what a checkpoint restore
/// checks). It must be `mode: infer`, or its own batches would move statistics that are overwritten
/// at the next batch anyway; and NAME must train itself (a chain of followers has no source).
public struct StatisticsSource: Sendable, Equatable {
    /// The pipeline whose statistics are followed.
    public var pipeline: String
    /// Where `statistics_from` is written, and its path, for located messages.
    public var location: SourceLocation?
    public var path: ConfigPath
    /// Where `mode` is written (the pipeline's mapping when it is absent).
    public var modeLocation: SourceLocation?
    public var modePath: ConfigPath

    /// Reads `statistics_from` (a pipeline name) from one pipeline mapping; `nil` when absent or invalid.
    static func read(from reader: ParameterReader) -> StatisticsSource? {
        guard let name = reader.optionalString("statistics_from") else { return nil }
        guard reader.requireLength("statistics_from", name, atMost: ConfigLimits.maxNameBytes) else { return nil }
        return StatisticsSource(
            pipeline: name, location: reader.location(of: "statistics_from"), path: reader.path(of: "statistics_from"),
            modeLocation: reader.location(of: "mode"), modePath: reader.path(of: "mode"))
    }

    /// Cross-pipeline checks, once every pipeline is read: each message is located at the follower's
    /// `statistics_from` (or its `mode`).
    static func check(_ pipelines: [PipelineConfiguration], diagnostics: ConfigDiagnostics) {
        for follower in pipelines {
            guard let source = follower.statisticsFrom else { continue }
            func refuse(_ message: String) { diagnostics.error(at: source.location, path: source.path, message) }
            if follower.mode != .infer {
                diagnostics.error(
                    at: source.modeLocation, path: source.modePath,
                    "must be infer in a pipeline with statistics_from (it reads '\(ConfigNode.excerpt(source.pipeline))''s statistics and never changes them)"
                )
            }
            guard source.pipeline != follower.name else {
                refuse("names this pipeline itself; statistics_from names the training pipeline whose statistics this one uses")
                continue
            }
            guard let trainer = pipelines.first(where: { $0.name == source.pipeline }) else {
                let names = pipelines.filter { $0.statisticsFrom == nil && $0.name != follower.name }.map(\.name)
                refuse("no pipeline named '\(ConfigNode.excerpt(source.pipeline))' (pipelines it can follow: \(names.joined(separator: ", ")))")
                continue
            }
            if let chained = trainer.statisticsFrom {
                refuse("'\(trainer.name)' itself takes its statistics from '\(chained.pipeline)'; name the training pipeline instead")
                continue
            }
            if let mismatch = mismatch(of: follower, with: trainer) { refuse("cannot use the statistics of '\(trainer.name)': \(mismatch)") }
        }
    }

    /// Why `follower`'s chain cannot take `trainer`'s saved statistics, or `nil` when it can.
    static func mismatch(of follower: PipelineConfiguration, with trainer: PipelineConfiguration) -> String? {
        if follower.features != trainer.features { return "features \(follower.features), '\(trainer.name)' has \(trainer.features)" }
        if follower.stageCount != trainer.stageCount {
            return "\(follower.stageCount) stages, '\(trainer.name)' has \(trainer.stageCount); the chains must have the same kinds and fingerprints"
        }
        for (mine, theirs) in zip(follower.stages, trainer.stages) {
            let at = "stages[\(mine.position)]"
            if mine.kind != theirs.kind { return "\(at) is \(mine.kind), '\(trainer.name)' has \(theirs.kind)" }
            if mine.columns != theirs.columns { return "\(at) (\(mine.kind)) has other columns than '\(trainer.name)''s" }
            if mine.fingerprint != theirs.fingerprint {
                let keys = Set(mine.fingerprint.keys).union(theirs.fingerprint.keys).sorted()
                let changed = keys.filter { mine.fingerprint[$0] != theirs.fingerprint[$0] }
                    .map { "\($0) \(mine.fingerprint[$0] ?? "none") vs \(theirs.fingerprint[$0] ?? "none")" }
                return "\(at) (\(mine.kind)) has another fingerprint: \(changed.joined(separator: ", "))"
            }
        }
        return nil
    }
}
