public import NormCore

/// Why a batch asked to train ran in infer mode instead.
public enum TrainingDowngrade: Sendable, Equatable, CustomStringConvertible {
    /// Fewer rows than `batch.min_rows`: too few to estimate statistics from (one row has variance 0).
    case tooFewRows(rows: Int, minimum: Int)
    /// A stage's ghost batches (`virtual_batch_size`) do not divide the row count.
    case notRowMultiple(rows: Int, multiple: Int, stage: Int)
    /// A stage failed on the batch in train mode; every statistic was put back and the batch re-run
    /// in infer mode (see `PipelineEngine`), so its rows are still delivered.
    case stageFailed(StageError)
    /// A member of a sync group that does not hold the group's statistics (restarted, lagging, or
    /// its step failed): it runs infer with its last statistics until it has rejoined (Docs/SYNC.md).
    case rejoiningSyncGroup

    public var description: String {
        switch self {
        case .tooFewRows(let rows, let minimum):
            "\(rows) rows is below batch.min_rows (\(minimum))"
        case .notRowMultiple(let rows, let multiple, let stage):
            "\(rows) rows is not a multiple of stages[\(stage)].virtual_batch_size (\(multiple))"
        case .stageFailed(let error):
            "stage failed: \(error)"
        case .rejoiningSyncGroup:
            "rejoining sync group"
        }
    }
}

/// What happened to one batch.
public struct ChainOutcome: Sendable, Equatable {
    /// The mode the stages actually ran in.
    public var mode: Mode
    /// Set when a train batch was run in infer mode.
    public var downgrade: TrainingDowngrade?

    public init(mode: Mode, downgrade: TrainingDowngrade? = nil) {
        self.mode = mode
        self.downgrade = downgrade
    }
}

/// A stage together with the columns it is applied to.
public struct ChainLink {
    public var stage: any Stage
    public var columns: ColumnSelection

    public init(stage: any Stage, columns: ColumnSelection) {
        self.stage = stage
        self.columns = columns
    }
}

/// Runs a pipeline's stages in order over each batch.
///
/// The chain, not the stages, owns the rules that hold for every stage:
/// - it checks width and finiteness first (finiteness unless the caller vouches for it, see
///   `process(_:mode:inputValidated:)`), so a bad batch fails before any statistic changes;
/// - a train batch with fewer than `minTrainingRows` rows, or a row count some stage's ghost batches
///   do not divide, runs in infer mode for *every* stage (one row must never poison statistics) and
///   is counted in `downgradedBatches`;
/// - it gathers a stage's selected columns into a contiguous scratch batch and scatters them back.
public final class StageChain {
    public let links: [ChainLink]
    public let featureCount: Int
    public let minTrainingRows: Int
    /// Train batches that ran in infer mode (see `TrainingDowngrade`).
    public internal(set) var downgradedBatches = 0
    /// Bumped whenever a train batch changes the statistics, so outputs can say which statistics they used.
    @exclusivity(unchecked) public internal(set) var statsVersion: UInt64 = 0
    /// Stage outputs whose next stage's moments were accumulated in the same write pass and were
    /// usable (each saves that stage's moments pass and the output check): for tests and benchmarks.
    public private(set) var fusedPasses = 0
    var scratch: [FeatureBatch]
    /// Statistics of stages without `StatisticsTransaction`, set aside before a train batch.
    private var setAside: [StageState?]
    /// Each link's stage's `trainingRowMultiple`, read once: it is fixed when a stage is made (its
    /// `virtual_batch_size`; `StageBlueprint` reads it once too), and asking every stage through its
    /// existential per batch cost a retain, a release and a call each.
    private let trainingRowMultiples: [Int]
    /// Each link's stage as a `StatisticsTransaction`, if it is one (cast once, not per batch).
    private let transactional: [(any StatisticsTransaction)?]
    /// Each link's stage as a `MomentsFusingStage` when it takes its whole row (`columns.isAll`): such
    /// neighbours fuse (cast once).
    private let fusing: [(any MomentsFusingStage)?]
    /// How train batches run when every stage could train from summaries (see `TrainPasses`).
    public let trainPasses: TrainPasses
    /// Train batches that ran from summaries in two passes (see `trainFromSummaries`): for tests and
    /// benchmarks.
    @exclusivity(unchecked) public internal(set) var summaryBatches = 0
    /// Infer batches whose stages were applied in one pass (see `inferInOnePass`): for tests and benchmarks.
    @exclusivity(unchecked) public internal(set) var onePassInferBatches = 0
    /// Every link's stage as an `AffineTrainingStage`, when there are at least two links, each takes its
    /// whole row and each is one (cast once); `nil` otherwise.
    let affineStages: [any AffineTrainingStage]?
    /// Reused per train batch from summaries: a stage's input summary and its output's (the next stage's
    /// input; the two trade places after each stage), the first summary's Float32 shift, every stage's
    /// coefficients (no allocation once warm).
    ///
    /// `@exclusivity(unchecked)` here and on the counters a batch bumps: the chain is driven by one
    /// thread, batch after batch (`Stage`), and every access to these is a short one within this type,
    /// none overlapping another; the run-time check of each (`swift_beginAccess`, ~100 instructions)
    /// was ~6 % of a 256 × 16 train batch (callgrind, BENCHMARKS.md "Issue 15, chain per-batch overhead").
    @exclusivity(unchecked) var inputSummary = ColumnSummary()
    @exclusivity(unchecked) var outputSummary = ColumnSummary()
    @exclusivity(unchecked) var summaryShift: [Float] = []
    @exclusivity(unchecked) var affineChain: AffineChain

    /// - Parameter trainPasses: `.summaries` (the default) trains a chain of `AffineTrainingStage`s in
    ///   two passes over the batch; `.fused` keeps every stage's own train step (bit-identical to the
    ///   stages run one by one; tests of that path use it).
    public init(links: [ChainLink], featureCount: Int, minTrainingRows: Int = 2, trainPasses: TrainPasses = .summaries) {
        precondition(links.allSatisfy { $0.columns.rowWidth == featureCount && $0.stage.featureCount == $0.columns.count })
        self.links = links
        self.featureCount = featureCount
        self.minTrainingRows = max(1, minTrainingRows)
        self.scratch = links.map { FeatureBatch(rows: 0, features: $0.columns.count) }
        self.setAside = Array(repeating: nil, count: links.count)
        self.trainingRowMultiples = links.map { $0.stage.trainingRowMultiple }
        self.transactional = links.map { $0.stage as? any StatisticsTransaction }
        self.fusing = links.map { $0.columns.isAll ? $0.stage as? any MomentsFusingStage : nil }
        self.trainPasses = trainPasses
        let affine = links.compactMap { $0.columns.isAll ? $0.stage as? any AffineTrainingStage : nil }
        self.affineStages = links.count >= 2 && affine.count == links.count ? affine : nil
        self.affineChain = AffineChain(features: featureCount, stages: affineStages == nil ? 0 : links.count)
    }

    public var stages: [any Stage] { links.map(\.stage) }

    /// The mode a batch of `rows` rows asked to run in `requested` mode will actually run in.
    public func effectiveMode(rows: Int, requested: Mode) -> ChainOutcome {
        guard requested == .train else { return ChainOutcome(mode: .infer, downgrade: nil) }
        if rows < minTrainingRows {
            return ChainOutcome(mode: .infer, downgrade: .tooFewRows(rows: rows, minimum: minTrainingRows))
        }
        for (index, multiple) in trainingRowMultiples.enumerated() where rows % multiple != 0 {
            return ChainOutcome(mode: .infer, downgrade: .notRowMultiple(rows: rows, multiple: multiple, stage: index))
        }
        return ChainOutcome(mode: .train, downgrade: nil)
    }

    /// Normalizes `batch` in place through every stage.
    ///
    /// A train batch is atomic: every stage's statistics are set aside first (`StatisticsTransaction`,
    /// or `saveState()` for stages without it) and put back if any stage fails, so the statistics
    /// are those after the whole batch or exactly those before it. Between stages the chain refuses a
    /// stage's NaN/infinite output before the next stage learns from it, and after each stage it
    /// refuses statistics that became non-finite (a NaN that reached a moving average would
    /// make every later checkpoint unencodable). In infer mode nothing is learned, so nothing is
    /// checked between stages.
    ///
    /// - Parameter inputValidated: pass `true` only when every value of `batch` is already known to be
    ///   finite — `PipelineEngine` checks each message on accept and batches only finite rows, so a
    ///   second whole-batch pass would re-read 128 KiB per batch for nothing. A non-finite value let
    ///   through this way is not detected and poisons the statistics. Everyone else (`normd apply`,
    ///   tests, tools) keeps the default `false`, and the chain checks.
    /// - Parameter keepOriginal: called with the batch, once, just before a train batch is first
    ///   changed on a path that can still fail afterwards (the stages one by one). A caller that
    ///   re-runs a failed batch copies it there, and only then: the two-pass path of
    ///   `trainFromSummaries` checks everything before it writes, so most train batches need no copy.
    /// - Throws: `StageError.widthMismatch` or `.nonFinite` before anything changes; a stage's own
    ///   error, `.nonFiniteOutput` or `.nonFiniteStatistics` wrapped in `.inStage(index:kind:_:)`,
    ///   after every statistic was put back. `batch` then holds partly processed values, and
    ///   `keepOriginal` was given the batch before any of them changed.
    @discardableResult
    public func process(
        _ batch: inout FeatureBatch, mode requested: Mode, inputValidated: Bool = false,
        keepOriginal: (FeatureBatch) -> Void = { _ in }
    ) throws(StageError) -> ChainOutcome {
        guard batch.features == featureCount else {
            throw .widthMismatch(expected: featureCount, got: batch.features)
        }
        if !inputValidated, let bad = batch.firstNonFinite() {
            throw .nonFinite(row: bad.row, column: bad.column, value: bad.value)
        }
        let outcome = effectiveMode(rows: batch.rows, requested: requested)
        if outcome.downgrade != nil { downgradedBatches += 1 }
        guard batch.rows > 0 else { return outcome }
        let training = outcome.mode == .train
        if training { setStatisticsAside() }
        if training && trainFromSummaries(&batch) {
            statsVersion &+= 1
            return outcome
        }
        if !training && inferInOnePass(&batch) { return outcome }
        if training { keepOriginal(batch) }
        // Train moments stage k's fused write pass computed for stage k + 1 (see `MomentsFusingStage`).
        var handedOn: ColumnMoments?
        for index in links.indices {
            let link = links[index]
            do throws(StageError) {
                handedOn = try run(link, index: index, on: &batch, mode: outcome.mode, checked: training, given: handedOn)
            } catch {
                if training { restoreStatisticsSetAside() }
                throw .inStage(index: index, kind: link.stage.kind, error)
            }
        }
        if training { statsVersion &+= 1 }
        return outcome
    }

    /// One stage over its columns of `batch`; with `checked`, refuses a non-finite output (unless it
    /// is the last stage's: nothing learns from that) and non-finite statistics.
    ///
    /// Fused passes (train only, both stages `MomentsFusingStage` over whole rows): the stage's write
    /// pass accumulates the next stage's moments about that stage's shift; finite sums prove the
    /// output finite, so the whole-batch check is skipped, and usable moments are returned for the
    /// next stage (`given`). Bit-identical to the unfused path (`AffineMomentsKernel`).
    /// - Returns: the moments to give the next stage, if any.
    private func run(
        _ link: ChainLink, index: Int, on batch: inout FeatureBatch, mode: Mode, checked: Bool,
        given: ColumnMoments?
    ) throws(StageError) -> ColumnMoments? {
        let checkOutput = checked && index < links.count - 1
        if checked, let stage = fusing[index] {
            let nextShift = index + 1 < links.count ? fusing[index + 1]?.trainMomentsShift() : nil
            let fused = try stage.process(&batch, mode: mode, moments: given, nextShift: nextShift)
            if checkOutput, fused?.outputFinite != true, !Self.allFinite(batch), let bad = batch.firstNonFinite() {
                throw .nonFiniteOutput(kind: link.stage.kind, row: bad.row, column: bad.column, value: bad.value)
            }
            if !statisticsAreFinite(index) { throw .nonFiniteStatistics(kind: link.stage.kind) }
            if fused?.moments != nil { fusedPasses += 1 }
            return fused?.moments
        }
        if link.columns.isAll {
            try link.stage.process(&batch, mode: mode)
            if checkOutput, !Self.allFinite(batch), let bad = batch.firstNonFinite() {
                throw .nonFiniteOutput(kind: link.stage.kind, row: bad.row, column: bad.column, value: bad.value)
            }
        } else {
            gather(batch, into: &scratch[index], columns: link.columns)
            try link.stage.process(&scratch[index], mode: mode)
            if checkOutput, !Self.allFinite(scratch[index]), let bad = scratch[index].firstNonFinite() {
                throw .nonFiniteOutput(kind: link.stage.kind, row: bad.row, column: link.columns.indices[bad.column], value: bad.value)
            }
            scatter(scratch[index], into: &batch, columns: link.columns)
        }
        if checked && !statisticsAreFinite(index) {
            throw .nonFiniteStatistics(kind: link.stage.kind)
        }
        return nil
    }

    /// Whether every value of `batch` is finite: Σ x·0 over the batch is NaN exactly when some x is
    /// NaN or ±∞ (finite·0 = ±0, ∞·0 = NaN). Sixteen lanes at a time, so the check between stages
    /// costs about a memory pass of the batch (3 µs for 128 KiB, measured) rather than the 11 µs of
    /// `FeatureBatch.firstNonFinite()`'s general search, which is used only to locate a bad value.
    static func allFinite(_ batch: FeatureBatch) -> Bool {
        batch.withUnsafeValues { values in
            guard let base = values.baseAddress else { return true }
            let raw = UnsafeRawPointer(base)
            let lanes = 16, chunks = values.count / lanes
            var accumulator = SIMD16<Float>(repeating: 0)
            for chunk in 0..<chunks {
                accumulator += raw.loadUnaligned(fromByteOffset: chunk * lanes * MemoryLayout<Float>.stride, as: SIMD16<Float>.self) * 0
            }
            var tail: Float = 0
            for index in (chunks * lanes)..<values.count { tail += values[index] * 0 }
            return !(accumulator.sum() + tail).isNaN
        }
    }

    func setStatisticsAside() {
        for index in links.indices {
            if let stage = transactional[index] {
                stage.setStatisticsAside()
            } else {
                setAside[index] = links[index].stage.saveState()
            }
        }
    }

    /// Puts every stage back as `setStatisticsAside()` found it. A stage without
    /// `StatisticsTransaction` is restored from its own `saveState()`, which it must accept.
    func restoreStatisticsSetAside() {
        for index in links.indices {
            if let stage = transactional[index] {
                stage.restoreStatisticsSetAside()
            } else if let saved = setAside[index] {
                try? links[index].stage.restoreState(saved)
            }
        }
    }

    func statisticsAreFinite(_ index: Int) -> Bool {
        if let stage = transactional[index] { return stage.statisticsAreFinite }
        return links[index].stage.saveState().statistics.values.allSatisfy(\.allFinite)
    }

    public func saveState() -> [StageState] { links.map { $0.stage.saveState() } }

    /// Numbers this chain's statistics after `previous`, another chain's (a reload's replacement):
    /// outputs' `stats_version` keeps going up across a reload instead of starting again at 0.
    public func continueStatsVersion(after previous: UInt64) {
        statsVersion = previous &+ 1
    }

    /// Restores every stage; on any error nothing is partially restored.
    public func restoreState(_ states: [StageState]) throws(StageError) {
        guard states.count == links.count else {
            throw .invalidState(kind: "chain", "the saved state has \(states.count) stages, the pipeline has \(links.count)")
        }
        let backup = saveState()
        do throws(StageError) {
            for (link, state) in zip(links, states) { try link.stage.restoreState(state) }
        } catch {
            for (link, state) in zip(links, backup) { try? link.stage.restoreState(state) }
            throw error
        }
        statsVersion &+= 1
    }

    /// Restores every stage from another chain's statistics and takes that chain's `stats_version`:
    /// an evaluation pipeline (`statistics_from`) publishes the version of the statistics it used.
    public func restoreState(_ states: [StageState], statsVersion version: UInt64) throws(StageError) {
        try restoreState(states)
        statsVersion = version
    }

    func gather(_ batch: FeatureBatch, into target: inout FeatureBatch, columns: ColumnSelection) {
        target.reset(rows: batch.rows)
        let runs = columns.runs
        let width = batch.features, narrow = target.features
        batch.withUnsafeValues { source in
            target.withUnsafeMutableValues { destination in
                for row in 0..<batch.rows {
                    var out = row * narrow
                    for run in runs {
                        for column in run { destination[out] = source[row * width + column]; out += 1 }
                    }
                }
            }
        }
    }

    func scatter(_ source: FeatureBatch, into batch: inout FeatureBatch, columns: ColumnSelection) {
        let runs = columns.runs
        let width = batch.features, narrow = source.features
        source.withUnsafeValues { narrowValues in
            batch.withUnsafeMutableValues { destination in
                for row in 0..<source.rows {
                    var from = row * narrow
                    for run in runs {
                        for column in run { destination[row * width + column] = narrowValues[from]; from += 1 }
                    }
                }
            }
        }
    }
}
