/// One entry of a pipeline's `stages:`, resolved: its bound factory (`StageBlueprint`, holding the
/// parsed parameters) and its `ColumnSelection`. Validation produces these once; every chain of a
/// load (`normd run`, `normd apply`, a reload) is built from them without the configuration tree.
///
/// Equal plans build equal stages. Plans with the same `identity` but other settings (momentum,
/// gamma…) build stages that can take over each other's statistics: what a reload needs to tell a
/// stage it may keep from one it must start fresh.
public struct StagePlan: Sendable, Equatable {
    /// The pipeline it belongs to.
    public let pipeline: String
    /// Its position in `stages:`, 0-based.
    public let position: Int
    public let columns: ColumnSelection
    public let blueprint: StageBlueprint

    public init(pipeline: String, position: Int, columns: ColumnSelection, blueprint: StageBlueprint) {
        self.pipeline = pipeline
        self.position = position
        self.columns = columns
        self.blueprint = blueprint
    }

    public var kind: String { blueprint.kind }
    /// The checkpoint fingerprint (`Stage.fingerprint`).
    public var fingerprint: [String: String] { blueprint.fingerprint }

    public var identity: StageIdentity {
        StageIdentity(pipeline: pipeline, position: position, kind: kind, columns: columns, fingerprint: fingerprint)
    }

    public static func == (a: StagePlan, b: StagePlan) -> Bool {
        a.identity == b.identity && a.blueprint.settings == b.blueprint.settings
    }

    /// The stage for this entry: the one created while validating the first time, a fresh one after.
    /// - Throws: only a run-time failure to create it (a plugin's `create`), wrapped with the position.
    public func makeLink() throws(StageError) -> ChainLink {
        do {
            return ChainLink(stage: try blueprint.makeStage(), columns: columns)
        } catch {
            throw .inStage(index: position, kind: kind, error)
        }
    }
}

/// What makes a saved statistic of one stage usable by another: the same place (pipeline and
/// position), the same kind, the same columns and the same checkpoint fingerprint — what a
/// checkpoint restore checks, and what a reload compares to decide which statistics carry over.
public struct StageIdentity: Sendable, Hashable, CustomStringConvertible {
    public var pipeline: String
    public var position: Int
    public var kind: String
    public var columns: ColumnSelection
    public var fingerprint: [String: String]

    public var description: String {
        let parameters = fingerprint.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "pipeline '\(pipeline)', stages[\(position)] (\(kind)), columns \(columns) of \(columns.rowWidth), {\(parameters)}"
    }
}

extension StageChain {
    /// A fresh chain of `plans` (a pipeline's stages in order, all for rows of `featureCount`).
    /// - Throws: only a run-time failure to create a stage (see `StagePlan.makeLink()`).
    public convenience init(plans: [StagePlan], featureCount: Int, minTrainingRows: Int) throws(StageError) {
        var links: [ChainLink] = []
        links.reserveCapacity(plans.count)
        for plan in plans { links.append(try plan.makeLink()) }
        self.init(links: links, featureCount: featureCount, minTrainingRows: minTrainingRows)
    }
}
