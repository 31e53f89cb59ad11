public import NormCore
public import Pipeline
public import StageKit

/// One validated `pipelines:` entry, resolved: what the daemon needs to run it.
///
/// Keeps the resolved stages (`StagePlan`: bound factory, parsed parameters, columns) rather than
/// a built chain, because a chain holds live statistics: every run (and every test) builds its own
/// fresh chain with `makeChain()`, which cannot fail for a configuration reason.
public struct PipelineConfiguration: Sendable {
    public var name: String
    /// Width of every row (fixed: the stages were resolved for it).
    public private(set) var features: Int
    /// The mode batches run in unless a caller says otherwise.
    public var mode: Mode
    public var batch: BatchConfiguration
    /// Where the daemon reads rows (`inputs:`); empty for a pipeline used only by `normd apply`.
    public var inputs: [InputEndpoint]
    /// Where the daemon sends batches (`output:`); `nil` exactly when `inputs` is empty.
    public var output: OutputEndpoint?
    /// What the daemon does with messages holding NaN or infinity (`invalid_rows:`).
    public var invalidRows: InvalidRowPolicy
    /// Producers whose `seq` is tracked at most (`max_producers:`); the least recently seen is evicted.
    public var maxProducers = SequenceTracker.defaultCapacity
    /// `sync:`: this pipeline is one member of a sync group (Docs/SYNC.md); `nil` trains alone.
    public var sync: SyncConfiguration?
    /// `chain_thread: true`: the stage chain runs on a second thread while the pipeline's thread
    /// receives and batches the next rows (for wide rows on machines with cores to spare; see
    /// BENCHMARKS.md). Not with `sync:`. Default `false`.
    public var chainThread = false
    /// `io_threads: 2`: the pipeline's ZeroMQ context gets two libzmq I/O threads, its inputs on
    /// one and its output on the other (`ZMQ_AFFINITY`); 1 (the default) does all of its socket I/O
    /// on one thread. Changing it re-binds the pipeline.
    public var ioThreads = 1
    /// The `stages:` list, resolved, in order.
    public private(set) var stages: [StagePlan]
    /// Where the pipeline's mapping starts.
    public var location: SourceLocation?
    /// `statistics_from: NAME`: an evaluation pipeline that normalizes with NAME's live statistics
    /// and never changes them (checked across pipelines by `StatisticsSource.check`); `nil` otherwise.
    public var statisticsFrom: StatisticsSource?

    /// Bytes of one full batch of Float32 rows, `batch.size × features × 4`: at most
    /// `ConfigLimits.maxBatchBytes` once validated, saturating at `Int.max` for a value built by hand.
    public var batchBytes: Int {
        let (rowBytes, overflow1) = features.multipliedReportingOverflow(by: 4)
        let (bytes, overflow2) = batch.size.multipliedReportingOverflow(by: rowBytes)
        return overflow1 || overflow2 ? Int.max : bytes
    }

    /// Number of entries in `stages:`.
    public var stageCount: Int { stages.count }

    /// A chain with initial statistics: the first time, of the stages created while validating (a
    /// plugin's `create` runs once per stage per load); fresh ones after that.
    /// - Throws: only a run-time failure to create a stage (a plugin's `create`), never a
    ///   configuration error: everything was checked when the plan was resolved.
    public func makeChain() throws(StageError) -> StageChain {
        try StageChain(plans: stages, featureCount: features, minTrainingRows: batch.minRows)
    }

    /// Characters allowed in a pipeline name: it appears in file names, metrics labels and topics.
    static let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")

    /// Reads one pipeline mapping, reporting every problem to `reader`'s diagnostics.
    /// - Returns: `nil` when any error was reported for this pipeline.
    /// - Parameter statisticsBudget: what is left of `ConfigLimits.maxStatisticsColumns` for this
    ///   and the following pipelines; this pipeline's `features × stages` is taken from it.
    static func read(from reader: ParameterReader, registry: StageRegistry, statisticsBudget: inout Int) -> PipelineConfiguration? {
        let diagnostics = reader.diagnostics
        let mark = diagnostics.mark()

        let name = reader.optionalString("name")
        if let name, reader.requireLength("name", name, atMost: ConfigLimits.maxNameBytes) {
            reader.require(
                "name", !name.isEmpty && name.allSatisfy(nameCharacters.contains),
                "must be non-empty and use only letters, digits, '_', '.' and '-'")
        } else if !reader.contains("name") {
            reader.error("name", "missing; every pipeline needs a unique name")
        }

        var features = reader.optionalInt("features")
        if let count = features {
            // An out-of-range width is forgotten so nothing below allocates or multiplies with it.
            if !reader.require("features", count > 0, "must be an integer > 0")
                || !reader.requireAtMost("features", count, ConfigLimits.maxFeatures)
            {
                features = nil
            }
        } else if !reader.contains("features") || reader.isExplicitNull("features") {
            reader.error("features", "missing; the number of features per row (an integer > 0) is required")
        }

        let mode = Mode(rawValue: reader.choice("mode", among: Mode.allCases.map(\.rawValue), default: Mode.train.rawValue)) ?? .train
        let batch = BatchConfiguration.read(from: reader.nested("batch"))
        if let features { checkBatchBytes(reader, batchSize: batch.size, features: features) }
        let invalidRows =
            InvalidRowPolicy(
                rawValue: reader.choice(
                    "invalid_rows", among: InvalidRowPolicy.allCases.map(\.rawValue), default: InvalidRowPolicy.rejectMessage.rawValue))
            ?? .rejectMessage
        var maxProducers = SequenceTracker.defaultCapacity
        if let cap = reader.optionalInt("max_producers"),
            reader.require("max_producers", (1...Self.maxProducersLimit).contains(cap), "must be an integer from 1 to \(Self.maxProducersLimit)")
        {
            maxProducers = cap
        }
        let (inputs, output) = readEndpoints(reader, pipelineName: name)
        let statisticsFrom = StatisticsSource.read(from: reader)
        let sync = reader.nested("sync").flatMap { SyncConfiguration.read(from: $0) }
        let chainThread = reader.bool("chain_thread", default: false)
        var ioThreads = 1
        if let count = reader.optionalInt("io_threads"),
            reader.require(
                "io_threads", (1...2).contains(count),
                "must be 1 or 2 (2: the inputs on one libzmq I/O thread, the output on another)")
        {
            ioThreads = count
        }
        if chainThread && reader.contains("sync") && !reader.isExplicitNull("sync") {
            reader.error(
                "chain_thread",
                "cannot be used with 'sync': a sync step exchanges statistics on the pipeline's own thread; remove one of them")
        }

        let stagesPath = reader.path(of: "stages")
        let stages = reader.value("stages")
        if stages == nil || stages?.isNull == true {
            reader.error("stages", "missing; a pipeline needs a list of stages")
        }
        reader.finish()

        // Stages can only be checked against a valid row width (their `columns` refer to it), and
        // are bound (creating each stage once, with its per-feature statistics) only within the
        // file's budget.
        var plans: [StagePlan]?
        if let stages, !stages.isNull, let features,
            withinBudget(reader, stages: stages, features: features, budget: &statisticsBudget)
        {
            plans = StageResolver.resolve(
                stages: stages, path: stagesPath, pipeline: name ?? "", featureCount: features, batchSize: batch.size,
                registry: registry, diagnostics: diagnostics)
        }
        if let plans, let stages, sync != nil {
            SyncConfiguration.checkStages(stages, plans: plans, path: stagesPath, diagnostics: diagnostics)
        }
        guard mark.noNewErrors, let name, let features, let plans else { return nil }
        var configuration = PipelineConfiguration(
            name: name, features: features, mode: mode, batch: batch,
            inputs: inputs, output: output, invalidRows: invalidRows,
            stages: plans, location: reader.node.location)
        configuration.maxProducers = maxProducers
        configuration.statisticsFrom = statisticsFrom
        configuration.sync = sync
        configuration.chainThread = chainThread
        configuration.ioThreads = ioThreads
        return configuration
    }

    /// Upper bound of `max_producers`: a million names of up to 256 bytes is ~400 MB of tracking.
    static let maxProducersLimit = 1_000_000

    /// `inputs:` and `output:` come together: rows with nowhere to go (or a sink with no source)
    /// is a configuration mistake, not a feature.
    private static func readEndpoints(_ reader: ParameterReader, pipelineName: String?) -> ([InputEndpoint], OutputEndpoint?) {
        var inputs: [InputEndpoint] = []
        if let node = reader.value("inputs"), !node.isNull {
            if let items = node.listItems, !items.isEmpty {
                let counted = reader.requireCount("inputs", items, atMost: ConfigLimits.maxInputs, of: "inputs")
                for (index, item) in items.enumerated() where counted {
                    let itemReader = ParameterReader(
                        node: item, path: reader.path(of: "inputs").appending(index: index), diagnostics: reader.diagnostics)
                    if item.mapEntries != nil, let input = InputEndpoint.read(from: itemReader) { inputs.append(input) }
                }
            } else {
                reader.error("inputs", "expected a non-empty list of inputs, got \(node.value.typeName) \(node.quoted)")
            }
        }
        let output = reader.nested("output").flatMap { OutputEndpoint.read(from: $0, pipelineName: pipelineName) }
        let hasInputs = reader.contains("inputs") && !reader.isExplicitNull("inputs")
        let hasOutput = reader.contains("output") && !reader.isExplicitNull("output")
        if hasInputs && !hasOutput {
            reader.error(nil, "has 'inputs' but no 'output'; the daemon needs somewhere to send the batches")
        } else if hasOutput && !hasInputs {
            reader.error(nil, "has an 'output' but no 'inputs'; the daemon needs somewhere to read rows from")
        }
        return (inputs, output)
    }

    /// `batch.size × features × 4` bytes must stay within `ConfigLimits.maxBatchBytes`; reported at
    /// `batch.size` (or at `features` when the size is the default). Both factors are bounded
    /// (2²⁰ each), so the product cannot overflow.
    private static func checkBatchBytes(_ reader: ParameterReader, batchSize: Int, features: Int) {
        let written = reader.value("batch")?.entry("size")
        // An invalid `size` (already reported) fell back to the default: no second message about it.
        if let written, written.value.number != Double(batchSize) { return }
        let bytes = batchSize * features * 4
        guard bytes > ConfigLimits.maxBatchBytes else { return }
        let largest = max(1, ConfigLimits.maxBatchBytes / (features * 4))
        let message =
            "a batch of \(batchSize) rows × \(features) features × 4 bytes is \(bytes) bytes, "
            + "more than the limit of \(ConfigLimits.bytesText(ConfigLimits.maxBatchBytes)) (\(ConfigLimits.reference)); "
            + "with \(features) features batch.size can be at most \(largest)"
        if let written {
            reader.diagnostics.error(at: written.value.location, path: reader.path(of: "batch").appending("size"), message)
        } else {
            reader.error("features", message)
        }
    }

    /// Takes `features × stages` from `budget`, or reports at `stages` that it does not fit.
    private static func withinBudget(_ reader: ParameterReader, stages: ConfigNode, features: Int, budget: inout Int) -> Bool {
        let count = stages.listItems?.count ?? 1
        guard reader.requireCount("stages", stages.listItems ?? [], atMost: ConfigLimits.maxStages, of: "stages") else { return false }
        let columns = count * features
        guard columns <= budget else {
            reader.error(
                "stages",
                "\(count) stage\(count == 1 ? "" : "s") × \(features) features need \(columns) columns of statistics, "
                    + "more than the \(budget) left of the limit of \(ConfigLimits.maxStatisticsColumns) for the whole file (\(ConfigLimits.reference))"
            )
            return false
        }
        budget -= columns
        return true
    }
}
