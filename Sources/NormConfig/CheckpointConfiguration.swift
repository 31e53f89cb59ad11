import StageKit

/// Where and how often the daemon saves every pipeline's statistics (`checkpoint:` at the top level).
///
/// ```yaml
/// checkpoint: {path: state/, every_batches: 100, every_seconds: 30, keep: 3, on_mismatch: refuse}
/// ```
/// A generation is written after `every_batches` train batches of any pipeline, or `every_seconds`
/// after the statistics first changed since the last one, whichever comes first; and once more at
/// graceful shutdown. Either trigger may be 0 to disable it, not both (then a crash would lose
/// everything since the start).
public struct CheckpointConfiguration: Sendable, Equatable {
    /// What to do when a checkpoint's stages no longer match the configuration.
    public enum MismatchPolicy: String, Sendable, CaseIterable {
        /// Exit 78 naming the pipeline and stage (the default: silently dropping statistics makes the
        /// trainer see the normalization jump).
        case refuse
        /// Log it and start that pipeline from fresh statistics.
        case reset
    }

    /// The checkpoint directory, resolved against the configuration file's directory when relative.
    public var directory: String
    /// Train batches (per pipeline) between generations; 0 disables this trigger.
    public var everyBatches: Int
    /// Longest time changed statistics wait to be saved; `nil` disables this trigger.
    public var every: Duration?
    /// Generations kept on disk (the newest ones), at least 1.
    public var keep: Int
    public var onMismatch: MismatchPolicy

    public static let defaultEveryBatches = 100
    public static let defaultEvery = Duration.seconds(30)
    public static let defaultKeep = 3

    public init(
        directory: String, everyBatches: Int = defaultEveryBatches, every: Duration? = defaultEvery,
        keep: Int = defaultKeep, onMismatch: MismatchPolicy = .refuse
    ) {
        self.directory = directory
        self.everyBatches = everyBatches
        self.every = every
        self.keep = keep
        self.onMismatch = onMismatch
    }

    static let everyBound = DurationBound(
        allowsZero: true, floorRule: "must be >= 0 (0 disables the trigger)", maximum: ConfigLimits.maxCheckpointInterval,
        example: "a number of seconds or a duration like \"30s\", \"5m\"")

    /// Reads `checkpoint:`; every problem goes to `reader`'s diagnostics.
    /// - Parameters:
    ///   - reader: the `checkpoint:` mapping.
    ///   - configFile: the configuration file's path, against whose directory a relative `path` resolves.
    /// - Returns: `nil` when an error was reported.
    static func read(from reader: ParameterReader, configFile: String?) -> CheckpointConfiguration? {
        let mark = reader.diagnostics.mark()
        let pathIsAbsent = reader.value("path")?.isNull ?? true
        let path = reader.optionalString("path")
        if pathIsAbsent {
            reader.error(nil, "missing 'path' (the directory for checkpoint files, relative to this file's directory)")
        } else if let path {
            if reader.require("path", !path.isEmpty, "must be a non-empty directory path") {
                reader.requireLength("path", path, atMost: ConfigLimits.maxPathBytes)
            }
        }
        let everyBatches = reader.int("every_batches", default: defaultEveryBatches)
        if reader.require("every_batches", everyBatches >= 0, "must be an integer >= 0 (0 disables the trigger)") {
            reader.requireAtMost("every_batches", everyBatches, ConfigLimits.maxEveryBatches)
        }
        var every: Duration? = defaultEvery
        if let duration = reader.duration("every_seconds", everyBound) { every = duration == .zero ? nil : duration }
        if everyBatches == 0 && every == nil {
            reader.error(
                nil, "every_batches and every_seconds are both 0; enable at least one (checkpoints would otherwise be written only at shutdown)")
        }
        let keep = reader.int("keep", default: defaultKeep)
        if reader.require("keep", keep >= 1, "must be an integer >= 1") {
            reader.requireAtMost("keep", keep, ConfigLimits.maxKeep)
        }
        let policy = reader.choice("on_mismatch", among: MismatchPolicy.allCases.map(\.rawValue), default: MismatchPolicy.refuse.rawValue)
        reader.finish()
        guard mark.noNewErrors, let path else { return nil }
        return CheckpointConfiguration(
            directory: resolve(path, relativeTo: configFile), everyBatches: everyBatches,
            every: every, keep: keep, onMismatch: MismatchPolicy(rawValue: policy) ?? .refuse)
    }

    /// `path` itself when absolute, else joined to the directory of `configFile` (without a trailing slash).
    static func resolve(_ path: String, relativeTo configFile: String?) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard !trimmed.hasPrefix("/"), let configFile, let slash = configFile.lastIndex(of: "/") else { return trimmed }
        let directory = configFile[..<slash]
        return (directory.isEmpty ? "" : String(directory)) + "/" + trimmed
    }
}
