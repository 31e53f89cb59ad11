/// What the admin server asks the daemon. The server knows HTTP and JSON; the backend (the daemon's
/// composition root) knows pipelines, ZeroMQ and checkpoints. Every method is called on an HTTP
/// task, never on a pipeline's thread, and must not block it: requests that need a pipeline's thread
/// (its statistics, a mode switch) are served by that thread between two batches and awaited here.
public protocol AdminBackend: Sendable {
    /// Empty while healthy; otherwise why not (shutting down, a pipeline thread ended).
    func unhealthyReasons() -> [String]
    /// Empty once every pipeline's sockets are bound or connected and its statistics are restored.
    func notReadyReasons() -> [String]
    /// One summary per pipeline, in configuration order.
    func pipelines() -> [PipelineSummary]
    /// The pipeline's `body.pipelines[i]` object of the state-file format, encoded; `nil` for an unknown pipeline.
    func statistics(of pipeline: String) async -> StatisticsAnswer
    /// Switches the pipeline's mode at its next batch boundary and returns once it is applied.
    func switchMode(of pipeline: String, to mode: String) async -> ModeAnswer
    /// Writes a checkpoint generation now and returns once it is durable.
    func checkpointNow() async -> CheckpointAnswer
    /// Reloads the configuration file like SIGHUP (all or nothing) and returns once it is applied or refused.
    func reload() async -> ReloadAnswer
    /// Brings the registry's metrics up to date from what the pipelines published (before each scrape).
    func refreshMetrics()
}

/// `GET /pipelines`: one element.
public struct PipelineSummary: Sendable, Encodable, Equatable {
    public var name: String
    public var mode: String
    public var statsVersion: UInt64
    public var batchSize: Int
    public var features: Int
    /// Stage kinds, in chain order.
    public var stages: [String]
    /// The counts line's keys and values (`messages_accepted`, `rows_accepted`, …).
    public var counts: [String: CountValue]
    /// RFC 3339 with milliseconds, UTC; `nil` before the first batch.
    public var lastBatchAt: String?
    /// An evaluation pipeline's source (`statistics_from`: the training pipeline whose statistics it
    /// uses); `nil` (JSON `null`) for a pipeline with statistics of its own.
    public var statisticsFrom: String?

    public init(
        name: String, mode: String, statsVersion: UInt64, batchSize: Int, features: Int, stages: [String],
        counts: [String: CountValue], lastBatchAt: String?, statisticsFrom: String? = nil
    ) {
        self.name = name
        self.mode = mode
        self.statsVersion = statsVersion
        self.batchSize = batchSize
        self.features = features
        self.stages = stages
        self.counts = counts
        self.lastBatchAt = lastBatchAt
        self.statisticsFrom = statisticsFrom
    }

    enum CodingKeys: String, CodingKey {
        case name, mode, stages, counts, features
        case statsVersion = "stats_version"
        case batchSize = "batch_size"
        case lastBatchAt = "last_batch_at"
        case statisticsFrom = "statistics_from"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(mode, forKey: .mode)
        try container.encode(statsVersion, forKey: .statsVersion)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(features, forKey: .features)
        try container.encode(stages, forKey: .stages)
        try container.encode(counts, forKey: .counts)
        try container.encode(lastBatchAt, forKey: .lastBatchAt) // explicit null before the first batch
        try container.encode(statisticsFrom, forKey: .statisticsFrom) // explicit null: its own statistics
    }
}

public enum StatisticsAnswer: Sendable {
    /// The record, already JSON (the state file's own encoder made it).
    case record([UInt8])
    case unknownPipeline
    /// The pipeline's thread did not answer in time (e.g. blocked on a full PUSH output), or has ended.
    case unavailable(String)
}

public enum ModeAnswer: Sendable, Equatable {
    /// Applied: `fromBatch` is the first output batch number produced in `mode`.
    case switched(mode: String, fromBatch: UInt64)
    case unknownPipeline
    /// The pipeline's thread did not reach a batch boundary in time; nothing changed.
    case unavailable(String)
    /// The pipeline's mode cannot be switched (an evaluation pipeline, `statistics_from`: always infer).
    case conflict(String)
}

public enum CheckpointAnswer: Sendable, Equatable {
    /// Durable: the generation's file name (no directory) and number.
    case written(file: String, generation: UInt64)
    case notConfigured
    case failed(String)
}

/// A value of the counts line in JSON: a number, or an object by reason (`{"wrong_width": 2}`).
public enum CountValue: Sendable, Equatable, Encodable {
    case number(Int)
    case byReason([String: Int])

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .byReason(let table): try container.encode(table)
        }
    }
}

/// `POST /reload`: the daemon's answer, already rendered (`{"result":"success",…}` or
/// `{"result":"failure","problems":[…]}`); 200 when it succeeded, 422 when it did not.
public struct ReloadAnswer: Sendable, Equatable {
    public var succeeded: Bool
    public var body: String

    public init(succeeded: Bool, body: String) {
        self.succeeded = succeeded
        self.body = body
    }
}
