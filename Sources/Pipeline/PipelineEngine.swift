public import Logging
public import NormCore
public import StageKit

/// One pipeline's data path, without I/O: validate a decoded message, batch its rows, run full
/// (or overdue) batches through the stage chain, hand them to the sink, count everything.
///
/// Owned by the pipeline's socket thread; nothing here is shared except `board`.
public final class PipelineEngine {
    public struct Settings: Sendable {
        public var name: String
        public var mode: Mode
        public var batchSize: Int
        /// A partial batch is flushed once its oldest row has waited this long.
        public var maxLatency: Duration
        public var invalidRows: InvalidRowPolicy
        /// Producers whose `seq` is tracked at most; the least recently seen is evicted beyond.
        public var maxProducers: Int
        /// `chain_thread: true`: the chain runs on a second thread while this one batches (`ChainThread`).
        public var chainThread: Bool

        public init(
            name: String, mode: Mode, batchSize: Int, maxLatency: Duration, invalidRows: InvalidRowPolicy,
            maxProducers: Int = SequenceTracker.defaultCapacity, chainThread: Bool = false
        ) {
            self.name = name
            self.mode = mode
            self.batchSize = batchSize
            self.maxLatency = maxLatency
            self.invalidRows = invalidRows
            self.maxProducers = maxProducers
            self.chainThread = chainThread
        }
    }

    /// Why a message was not (entirely) accepted.
    public enum Rejection: Equatable, CustomStringConvertible {
        case wrongWidth(expected: Int, got: Int)
        case nonFinite(row: Int, column: Int)

        public var reason: String {
            switch self {
            case .wrongWidth: "wrong_width"
            case .nonFinite: "non_finite"
            }
        }

        public var description: String {
            switch self {
            case .wrongWidth(let expected, let got): "rows have \(got) features, the pipeline expects \(expected)"
            case .nonFinite(let row, let column): "non-finite value at row \(row), column \(column) of the message"
            }
        }
    }

    /// Replaced only by `replace(chain:settings:)`, between batches (a reload); `mode` also changes
    /// through `switchMode(to:)`, between two batches.
    public internal(set) var settings: Settings
    public internal(set) var chain: StageChain
    /// Where other threads (the stats reporter) read this pipeline's counts.
    public let board: CounterBoard
    /// The row width; the same for every chain this engine runs (a reload keeps it), so a `let`:
    /// reading it per message costs no exclusivity check.
    public let featureCount: Int
    /// The counts, the batcher, the `seq` positions and the newest arrival: all that changes per
    /// message, in one property so that a message costs one dynamic exclusivity check (see `MessageIntake`).
    @usableFromInline var intake: MessageIntake
    /// Everything this pipeline counted (what `publishCounts` shows other threads).
    public var counts: PipelineCounts { intake.counts }
    var nextBatch: UInt64 = 0
    /// A copy of the train batch in the chain, kept so a batch a stage fails on can be re-run in
    /// infer mode from its original rows (the chain leaves the batch half-processed). Taken only when
    /// the chain is about to change the batch on a path that can still fail (`keepOriginal` of
    /// `StageChain.process`): the two-pass train path checks everything before it writes and needs
    /// none, which saved a 16 KiB memcpy per batch at 16 features. Reused: no allocation once warm.
    var retryCopy: FeatureBatch
    /// Whether `retryCopy` holds the current batch's original rows.
    var retryCopyIsCurrent = false
    private let sink: any BatchSink
    var stageKinds: [String]
    var logger: Logger
    /// Training side of `statistics_from`: where each train batch's new statistics are published
    /// (`nil` unless an evaluation pipeline follows this one). See PipelineEngine+StatisticsFeed.swift.
    var statisticsFeed: StatisticsFeed?
    /// Evaluation side: the training pipeline's statistics this chain takes before each batch.
    var follower: StatisticsFollower?
    /// Where copies of the statistics go for checkpoints, and when (see `enableCheckpoints`).
    var snapshotSink: (any StateSnapshotSink)?
    var cadence = CheckpointCadence(everyBatches: 0, every: nil)
    /// The pipeline's sync group membership (`sync:`), if any; see `runChain`.
    public var synchronizer: (any StepSynchronizer)?
    /// The current batch's `sync:` header stamp, set by `runChain`.
    var syncStamp: SyncStamp?
    /// With `chain_thread: true`, the thread that runs the chain (PipelineEngine+ChainThread.swift).
    var chainThread: ChainThread?
    /// The batch on the chain thread, if any: what `finishInFlight` needs to publish it.
    var inFlight: InFlightBatch?
    /// The batcher's storage while its previous batch is on the chain thread: a finished batch's,
    /// handed back each time, so two batches' storage serve for ever.
    var spareBatch: FeatureBatch
    var spareOrigins: [RowOrigin] = []

    public init(settings: Settings, chain: StageChain, sink: any BatchSink, board: CounterBoard = CounterBoard(), logger: Logger) {
        self.settings = settings
        self.board = board
        self.chain = chain
        self.sink = sink
        self.logger = logger
        self.logger[metadataKey: "pipeline"] = "\(settings.name)"
        self.stageKinds = chain.stages.map(\.kind)
        self.featureCount = chain.featureCount
        self.intake = MessageIntake(
            batcher: RowBatcher(batchSize: settings.batchSize, features: chain.featureCount),
            sequences: SequenceTracker(capacity: max(1, settings.maxProducers)))
        self.retryCopy = FeatureBatch(rows: 0, features: chain.featureCount)
        self.spareBatch = FeatureBatch(rows: 0, features: chain.featureCount)
        updateChainThread()
    }

    deinit { chainThread?.stop() }

    /// When the waiting partial batch must be flushed, if any rows wait.
    public var flushDeadline: ContinuousClock.Instant? {
        intake.batcher.oldest.map { $0.instant + settings.maxLatency }
    }

    public var pendingRows: Int { intake.batcher.pendingRows }

    /// Takes one decoded message. Returns the rejection when the message was refused (the caller
    /// logs it with the endpoint); rows dropped under `drop_rows` are counted, not returned.
    /// `arrival` may be one reading for a whole burst of messages, taken before the burst: it is
    /// raised to the end of the last batch published (`MessageIntake.notBefore`).
    ///
    /// `@inlinable` (with `MessageIntake.takeWhole`, `admit` and `RowBatcher.fillWhole`) so that the
    /// caller's module specializes the per-message path for its concrete message type (normd's
    /// `DecodedMessage`): Pipeline cannot name that type, and unspecialized, every message paid
    /// protocol-witness calls and generic-metadata lookups (`_swift_getGenericMetadata`, ~1.7 % of
    /// normd's CPU at 16 features × 1 row). The general path (refusals, `drop_rows`, a message
    /// split across batches) stays behind `@usableFromInline` entry points, unspecialized.
    @discardableResult @inlinable
    public func accept(_ message: some IncomingRows, input: Int, arrival: ContinuousClock.Instant = .now) -> Rejection? {
        let arrival = ClockStamp(arrival)
        guard message.features == featureCount else {
            return reject(.wrongWidth(expected: featureCount, got: message.features))
        }
        // The common case — a finite message that fits in the waiting batch — in one access to
        // `intake` and one pass over its rows (copied into place and checked together).
        switch intake.takeWhole(message, input: input, arrival: arrival) {
        case .batched: return nil
        case .filled:
            emitWaiting(partial: false)
            return nil
        case .declined: break
        }
        if let bad = message.firstNonFiniteCell() {
            return acceptFiniteRows(of: message, firstBad: bad, input: input, arrival: arrival)
        }
        // A message split across batches (or an empty one): count, observe `seq`, batch what fits.
        var rest = 0..<message.rows
        if intake.take(message, rows: &rest, input: input, arrival: arrival) {
            emitWaiting(partial: false)
            batch(message, rows: rest, input: input, arrival: arrival)
        }
        return nil
    }

    /// A message with a non-finite value: refused, or (`drop_rows`) its finite runs of rows accepted.
    @usableFromInline
    func acceptFiniteRows(
        of message: some IncomingRows, firstBad bad: (row: Int, column: Int), input: Int, arrival: ClockStamp
    ) -> Rejection? {
        switch settings.invalidRows {
        case .rejectMessage:
            return reject(.nonFinite(row: bad.row, column: bad.column))
        case .dropRows:
            let runs = finiteRuns(of: message)
            let kept = runs.reduce(0) { $0 + $1.count }
            intake.counts.rowsDropped["non_finite", default: 0] += message.rows - kept
            intake.admit(message, keptRows: kept, input: input, arrival: arrival)
            for run in runs { batch(message, rows: run, input: input, arrival: arrival) }
            return nil
        }
    }

    /// Batches `rows` of an admitted message, emitting every batch that fills up.
    @usableFromInline
    func batch(_ message: some IncomingRows, rows: Range<Int>, input: Int, arrival: ClockStamp) {
        var rest = rows
        while intake.fill(message, rows: &rest, input: input, arrival: arrival) { emitWaiting(partial: false) }
    }

    /// Runs the waiting rows through the chain and hands them to the sink, if any wait. The batch is
    /// moved out of `intake` first (storage exchanged, not copied) and its storage given back after,
    /// so no access to `intake` is open while the chain, the sink and `process`'s counting run.
    @usableFromInline
    func emitWaiting(partial: Bool) {
        guard intake.batcher.pendingRows > 0 else { return }
        if let chainThread, synchronizer == nil {
            dispatchWaiting(partial: partial, to: chainThread)
            return
        }
        var batch = FeatureBatch(rows: 0, features: featureCount) // empty: no allocation
        var origins: [RowOrigin] = []
        intake.batcher.takeWaiting(into: &batch, origins: &origins)
        process(&batch, origins: origins, partial: partial)
        intake.batcher.restart(reusing: &batch, origins: &origins)
        intake.notBefore = .now
    }

    /// Flushes the partial batch if its oldest row has waited `max_latency`.
    public func flushIfDue(now: ContinuousClock.Instant = .now) {
        if let deadline = flushDeadline, deadline <= now { flushPartial() }
    }

    /// Flushes whatever waits (on shutdown, or when overdue). Rows below `batch.min_rows` run in
    /// infer mode: they are normalized and published, never used for statistics, never dropped.
    public func flushPartial() {
        emitWaiting(partial: true)
        finishInFlight()
        publishCounts()
    }

    /// Switches the mode from the next batch on; returns that batch's number (`from_batch`): the
    /// first output batch produced in `mode`. Call between batches (the socket loop does, on its thread).
    public func switchMode(to mode: Mode) -> UInt64 {
        finishInFlight() // the batch on the chain thread keeps the mode it started in
        settings.mode = mode
        return nextBatch
    }

    /// Makes the current counts visible to other threads.
    public func publishCounts() {
        board.publish(intake.counts)
    }

    /// Counts a message the transport could not decode (malformed frames, oversize, bad dtype…).
    public func recordUndecodable(reason: String) {
        intake.counts.messagesRejected[reason, default: 0] += 1
    }

    @usableFromInline
    func reject(_ rejection: Rejection) -> Rejection {
        intake.counts.messagesRejected[rejection.reason, default: 0] += 1
        return rejection
    }

    private func finiteRuns(of message: some IncomingRows) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start: Int?
        for row in 0..<message.rows {
            if message.isRowFinite(row) {
                if start == nil { start = row }
            } else if let s = start {
                runs.append(s..<row)
                start = nil
            }
        }
        if let s = start { runs.append(s..<message.rows) }
        return runs
    }

    /// Runs one batch through the chain on this thread, then publishes and counts it (`complete`).
    func process(_ batch: inout FeatureBatch, origins: [RowOrigin], partial: Bool) {
        prepareBatch(partial: partial)
        let completedAt = intake.newestArrival?.instant ?? .now
        let retryable = settings.mode == .train
        let started = ContinuousClock.now
        let result: Result<ChainOutcome, StageError>
        do throws(StageError) {
            // Every row was checked finite in `accept` (non-finite messages are rejected or their
            // bad rows dropped), so the chain skips its own whole-batch pass.
            result = .success(try runChain(&batch))
        } catch {
            result = .failure(error)
        }
        complete(
            &batch, origins: origins, result: result, retryable: retryable, chainDuration: ContinuousClock.now - started,
            completedAt: completedAt)
    }

    /// What happens before a batch enters the chain, on the pipeline's thread: count a partial
    /// batch, forget the previous retry copy, take the source's statistics (`statistics_from`).
    func prepareBatch(partial: Bool) {
        if partial { intake.counts.partialBatches += 1 }
        retryCopyIsCurrent = false
        if follower != nil { followStatistics() }
    }

    /// What happens once the chain ran a batch (here, or on the chain thread): a failed train batch
    /// is re-run in infer mode from its original rows or dropped, then the batch gets its number and
    /// is published, and everything is counted.
    /// - Parameters:
    ///   - retryable: whether the batch ran in train mode (a failed one may be re-run in infer).
    ///   - chainDuration: the chain's time for it; a re-run's time is added.
    ///   - completedAt: when the row that completed the batch arrived.
    func complete(
        _ batch: inout FeatureBatch, origins: [RowOrigin], result: Result<ChainOutcome, StageError>, retryable: Bool,
        chainDuration: Duration, completedAt: ContinuousClock.Instant
    ) {
        var outcome: ChainOutcome
        let finishing = ContinuousClock.now
        switch result {
        case .success(let ran):
            outcome = ran
        case .failure(let error):
            // The chain put every statistic back: the batch changed nothing.
            intake.counts.batchesFailed += 1
            guard retryable, let downgraded = rerunInInfer(&batch, after: error) else {
                intake.counts.rowsDropped["stage_failed", default: 0] += batch.rows
                logger.error(
                    "batch failed in a stage; statistics unchanged; its rows are dropped",
                    metadata: [
                        "batch": "\(nextBatch)", "rows": "\(batch.rows)", "error": "\(error)",
                    ])
                nextBatch += 1 // the gap in batch numbers tells a consumer these rows are lost
                publishCounts()
                return
            }
            logger.error(
                "batch failed in a stage; statistics unchanged; published in infer mode",
                metadata: [
                    "batch": "\(nextBatch)", "rows": "\(batch.rows)", "error": "\(error)",
                ])
            outcome = downgraded
        }
        if outcome.downgrade != nil { intake.counts.batchesDowngraded += 1 }
        var info = PublishedBatch(
            pipeline: settings.name, sequence: nextBatch, outcome: outcome,
            stageKinds: stageKinds, statsVersion: chain.statsVersion, origins: origins,
            processDuration: chainDuration + (ContinuousClock.now - finishing), completedAt: completedAt)
        info.sync = syncStamp
        nextBatch += 1
        // The sink may take the batch's storage and leave other storage of the same capacity: read
        // nothing of `batch` after this call (see `BatchSink.publish`). `emitWaiting` hands it back
        // to the batcher, which refills it.
        let rows = batch.rows
        if sink.publish(&batch, info) {
            intake.counts.batchesPublished += 1
            intake.counts.rowsPublished += rows
        } else {
            intake.counts.batchesDropped += 1
        }
        if outcome.mode == .train {
            recordTrainBatchForCheckpoint()
            statisticsFeed?.publish(from: chain)
        }
        publishCounts()
    }

    /// Re-runs the original rows (`retryCopy`) of a train batch a stage failed on, in infer mode.
    /// `nil` when infer fails too, or its output is not finite (the chain does not check between
    /// stages in infer mode, and a NaN must not be published as a normalized value).
    private func rerunInInfer(_ batch: inout FeatureBatch, after error: StageError) -> ChainOutcome? {
        // Without a copy the chain failed before it changed the batch.
        if retryCopyIsCurrent { batch.copyRows(of: retryCopy) }
        do {
            try chain.process(&batch, mode: .infer, inputValidated: true)
        } catch {
            return nil
        }
        guard batch.firstNonFinite() == nil else { return nil }
        return ChainOutcome(mode: .infer, downgrade: .stageFailed(error))
    }

    /// Keeps `original` in `retryCopy` (the chain's `keepOriginal`, train batches only).
    func keepForRetry(_ original: FeatureBatch) {
        retryCopy.copyRows(of: original)
        retryCopyIsCurrent = true
    }
}
