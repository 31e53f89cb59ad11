public import NormCore
public import StageKit

/// The body of a state file: the statistics of every pipeline's stages (see Docs/STATE_FORMAT.md).
///
/// Names follow the frameworks (`moving_mean`, `running_var`, `data_min`, …) so a trainer can
/// `json.load` the file and use the numbers without a translation table.
public struct StateDocument: Sendable, Equatable, Codable {
    public var pipelines: [PipelineStateRecord]

    public init(pipelines: [PipelineStateRecord] = []) {
        self.pipelines = pipelines
    }

    public func pipeline(named name: String) -> PipelineStateRecord? {
        pipelines.first { $0.name == name }
    }

    /// Replaces the record of `record.name`, or appends it; every other pipeline is kept as it is,
    /// so runs that touch different pipelines can share one file. A record without `mode` /
    /// `sync_step` keeps the replaced record's: they are set by the operations interface and sync
    /// groups, not by the statistics, so refreshing statistics (a restore, `normd apply`) must not
    /// lose them.
    public mutating func upsert(_ record: PipelineStateRecord) {
        if let index = pipelines.firstIndex(where: { $0.name == record.name }) {
            var record = record
            record.mode = record.mode ?? pipelines[index].mode
            record.syncStep = record.syncStep ?? pipelines[index].syncStep
            pipelines[index] = record
        } else {
            pipelines.append(record)
        }
    }
}

/// One pipeline's saved statistics.
public struct PipelineStateRecord: Sendable, Equatable, Codable {
    public var name: String
    /// Row width of the pipeline the statistics were computed for.
    public var features: Int
    public var stages: [StageStateRecord]
    /// The live mode override (format 2, optional): set through the admin server's
    /// `POST /pipelines/{name}/mode` (`CheckpointWriter.setMode`), so a restart keeps it.
    public var mode: Mode?
    /// The step of the pipeline's sync group (format 2, optional), for the distributed-sync issue.
    /// Nothing sets it yet; it is read, validated (≥ 0) and written back unchanged.
    public var syncStep: Int64?

    public init(name: String, features: Int, stages: [StageStateRecord], mode: Mode? = nil, syncStep: Int64? = nil) {
        self.name = name
        self.features = features
        self.stages = stages
        self.mode = mode
        self.syncStep = syncStep
    }

    enum CodingKeys: String, CodingKey {
        case name, features, stages, mode
        case syncStep = "sync_step"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        features = try container.decode(Int.self, forKey: .features)
        stages = try container.decode([StageStateRecord].self, forKey: .stages)
        if let text = try container.decodeIfPresent(String.self, forKey: .mode) {
            guard let mode = Mode(rawValue: text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .mode, in: container, debugDescription: "\"mode\" must be \"train\" or \"infer\", got \"\(text)\"")
            }
            self.mode = mode
        }
        syncStep = try container.decodeIfPresent(Int64.self, forKey: .syncStep)
        if let syncStep, syncStep < 0 {
            throw DecodingError.dataCorruptedError(forKey: .syncStep, in: container, debugDescription: "\"sync_step\" must be >= 0, got \(syncStep)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(features, forKey: .features)
        try container.encode(stages, forKey: .stages)
        try container.encodeIfPresent(mode?.rawValue, forKey: .mode)
        try container.encodeIfPresent(syncStep, forKey: .syncStep)
    }
}

/// One stage's saved statistics and what they were computed for.
public struct StageStateRecord: Sendable, Equatable, Codable {
    /// Position in the pipeline's `stages:` list.
    public var index: Int
    /// The stage's `type:` (`min_max`, `batch_norm`, …).
    public var kind: String
    /// Layout version of `statistics`/`counters`, owned by the stage.
    public var stateVersion: UInt32
    /// The 0-based row columns the stage was applied to.
    public var columns: [Int]
    /// Parameters that give the statistics their meaning (convention, epsilon…); must match on restore.
    public var fingerprint: [String: String]
    /// Per-feature statistics, named as the framework names them.
    public var statistics: [String: [Double]]
    /// Integer counters (`num_batches_tracked`, `n_samples_seen`).
    public var counters: [String: Int64]
    /// The stage's parameters as configured (format 2; empty when read from format 1, and for
    /// run-time plugin stages, whose configuration is their own): see `Stage.parameters`.
    public var params: [String: StageParameter]

    public init(
        index: Int, kind: String, stateVersion: UInt32, columns: [Int], fingerprint: [String: String],
        statistics: [String: [Double]], counters: [String: Int64], params: [String: StageParameter] = [:]
    ) {
        self.params = params
        self.index = index
        self.kind = kind
        self.stateVersion = stateVersion
        self.columns = columns
        self.fingerprint = fingerprint
        self.statistics = statistics
        self.counters = counters
    }

    enum CodingKeys: String, CodingKey {
        case index, kind, columns, fingerprint, statistics, counters, params
        case stateVersion = "state_version"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(Int.self, forKey: .index)
        kind = try container.decode(String.self, forKey: .kind)
        stateVersion = try container.decode(UInt32.self, forKey: .stateVersion)
        columns = try container.decode([Int].self, forKey: .columns)
        fingerprint = try container.decode([String: String].self, forKey: .fingerprint)
        statistics = try container.decode([String: [Double]].self, forKey: .statistics)
        counters = try container.decode([String: Int64].self, forKey: .counters)
        params = try container.decodeIfPresent([String: StageParameter].self, forKey: .params) ?? [:]
    }
}
