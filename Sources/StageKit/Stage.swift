public import NormCore

/// One step of a normalization chain (min-max scaling, batch norm, …).
///
/// A stage owns its running statistics. The chain calls one stage from one thread at a time, batch
/// after batch, and hands it only the columns it was configured for, already checked to be finite.
/// Stages are classes because their statistics are long-lived mutable state shared by nobody.
public protocol Stage: AnyObject {
    /// The YAML `type:` that builds this stage, e.g. `batch_renorm`.
    var kind: String { get }
    /// Version of the layout `saveState()` writes; `restoreState` accepts this and every older one.
    var stateVersion: UInt32 { get }
    /// Width of the batches this stage processes (the selected columns, not the whole row).
    var featureCount: Int { get }
    /// A training batch must have a multiple of this many rows (tf_keras `virtual_batch_size`), else
    /// the chain runs it in infer mode. 1 for stages without ghost batches.
    var trainingRowMultiple: Int { get }
    /// Parameters that give the statistics their meaning (kind, convention, epsilon…): a restored
    /// state whose fingerprint differs was computed for a different stage and must not be reused.
    var fingerprint: [String: String] { get }
    /// The stage's parameters as configured (`gamma`, `epsilon`, `momentum`, `feature_range`, …),
    /// recorded in state files (`params`) so a reader can rebuild the framework layer. Unlike the
    /// fingerprint they may change between runs. Stages that record none (run-time plugins, whose
    /// configuration is their own) return `[:]`, the default.
    var parameters: [String: StageParameter] { get }

    /// Normalizes `batch` in place. In `.train` mode it uses and folds in the batch's statistics;
    /// in `.infer` mode it uses the running statistics and changes nothing.
    ///
    /// Throws only `StageError` (typed), so the chain can wrap a failure with the stage's position
    /// without re-describing errors of unknown type; a stage with a message of its own (a run-time
    /// plugin) throws `.failed(kind:_:)`.
    func process(_ batch: inout FeatureBatch, mode: Mode) throws(StageError)

    func saveState() -> StageState
    /// Takes over `state` (as `saveState()` of this kind wrote it, now or in an older layout), or
    /// throws `.invalidState` and changes nothing.
    func restoreState(_ state: StageState) throws(StageError)
}

extension Stage {
    public var parameters: [String: StageParameter] { [:] }
}

/// A stage's statistics, named as the framework it follows names them (`moving_mean`,
/// `running_var`, `data_min`, …) so a trainer can load them without a translation table.
///
/// Named as the state file names the same things (`state_version`, `statistics`, `counters`; see
/// Checkpoint's `StageStateRecord` and Docs/STATE_FORMAT.md), so a field means one thing from the
/// stage to the file.
public struct StageState: Sendable, Equatable, Codable {
    public var kind: String
    /// The layout of `statistics`/`counters`: the stage's `stateVersion` when it saved them.
    public var stateVersion: UInt32
    /// Per-feature Float64 statistics.
    public var statistics: [String: [Double]]
    /// Integer counters (`num_batches_tracked`, `n_samples_seen`).
    public var counters: [String: Int64]

    public init(kind: String, stateVersion: UInt32, statistics: [String: [Double]] = [:], counters: [String: Int64] = [:]) {
        self.kind = kind
        self.stateVersion = stateVersion
        self.statistics = statistics
        self.counters = counters
    }

    enum CodingKeys: String, CodingKey {
        case kind, statistics, counters
        case stateVersion = "state_version"
    }

    /// The per-feature statistic `name`, checked to have `count` finite entries.
    public func statistic(_ name: String, count: Int) throws(StageError) -> [Double] {
        guard let values = statistics[name] else {
            throw .invalidState(kind: kind, "missing '\(name)'")
        }
        guard values.count == count else {
            throw .invalidState(kind: kind, "'\(name)' has \(values.count) values, the stage has \(count) features")
        }
        guard values.allSatisfy(\.isFinite) else {
            throw .invalidState(kind: kind, "'\(name)' holds a non-finite value")
        }
        return values
    }

    public func counter(_ name: String) throws(StageError) -> Int64 {
        guard let value = counters[name] else { throw .invalidState(kind: kind, "missing counter '\(name)'") }
        return value
    }

    /// Refuses a state written by another kind or by a newer stage version.
    public func checkCompatible(kind expectedKind: String, upTo version: UInt32) throws(StageError) {
        guard kind == expectedKind else {
            throw .invalidState(kind: expectedKind, "the saved state belongs to a '\(kind)' stage")
        }
        guard stateVersion <= version else {
            throw .invalidState(kind: kind, "state version \(stateVersion) is newer than this normd understands (\(version))")
        }
    }
}

/// Errors a stage or the chain raises while processing or restoring.
public enum StageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The batch's width is not the stage's feature count.
    case widthMismatch(expected: Int, got: Int)
    /// A NaN or infinity in the input; nothing was changed. Row and column are 0-based in the batch.
    case nonFinite(row: Int, column: Int, value: Float)
    /// A saved state that cannot be restored into this stage.
    case invalidState(kind: String, String)
    /// Anything else a stage reports (e.g. a run-time plugin's own message).
    case failed(kind: String, String)
    /// A stage wrote a NaN or infinity into the batch (row and column 0-based in the whole batch);
    /// the chain refuses it before the next stage learns from it.
    case nonFiniteOutput(kind: String, row: Int, column: Int, value: Float)
    /// A stage's statistics became NaN or infinite during a train batch (they were put back).
    case nonFiniteStatistics(kind: String)
    /// `underlying` happened in `stages[index]`; the chain wraps every stage failure this way so the
    /// report names the position, not only the kind.
    indirect case inStage(index: Int, kind: String, StageError)

    public var description: String {
        switch self {
        case .widthMismatch(let expected, let got):
            "batch has \(got) features per row, expected \(expected)"
        case .nonFinite(let row, let column, let value):
            "non-finite value \(value) at row \(row), column \(column)"
        case .invalidState(let kind, let message):
            "cannot restore \(kind) state: \(message)"
        case .failed(let kind, let message):
            "\(kind): \(message)"
        case .nonFiniteOutput(_, let row, let column, let value):
            "wrote the non-finite value \(value) at row \(row), column \(column)"
        case .nonFiniteStatistics:
            "its statistics became non-finite"
        case .inStage(let index, let kind, .failed(_, let message)):
            "stages[\(index)] (\(kind)): \(message)"
        case .inStage(let index, let kind, let underlying):
            "stages[\(index)] (\(kind)): \(underlying)"
        }
    }
}
