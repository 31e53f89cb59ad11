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
    /// so runs that touch different pipelines can share one file.
    public mutating func upsert(_ record: PipelineStateRecord) {
        if let index = pipelines.firstIndex(where: { $0.name == record.name }) {
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

    public init(name: String, features: Int, stages: [StageStateRecord]) {
        self.name = name
        self.features = features
        self.stages = stages
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

    public init(index: Int, kind: String, stateVersion: UInt32, columns: [Int], fingerprint: [String: String],
                statistics: [String: [Double]], counters: [String: Int64]) {
        self.index = index
        self.kind = kind
        self.stateVersion = stateVersion
        self.columns = columns
        self.fingerprint = fingerprint
        self.statistics = statistics
        self.counters = counters
    }

    enum CodingKeys: String, CodingKey {
        case index, kind, columns, fingerprint, statistics, counters
        case stateVersion = "state_version"
    }
}
