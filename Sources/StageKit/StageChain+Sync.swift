public import NormCore

/// Why a member could not complete a synchronized step.
public enum SyncStepError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The group did not deliver merged moments for the step (no leader reachable, this member was
    /// left out or found stale). Nothing was learned; the caller runs the batch in infer mode.
    case unavailable(String)
    /// A stage failed after the merge; every statistic was put back. The member is now stale (the
    /// others trained) and must rejoin.
    case stage(StageError)

    public var description: String {
        switch self {
        case .unavailable(let reason): "sync step unavailable: \(reason)"
        case .stage(let error): "\(error)"
        }
    }
}

extension StageChain {
    /// Whether every stage can train from merged moments (`MomentSynchronizedStage`).
    public var isSynchronizable: Bool { links.allSatisfy { $0.stage is any MomentSynchronizedStage } }

    /// One global step of a sync group: trains on `batch` (this member's rows, possibly none) with the
    /// group's merged moments, stage by stage.
    ///
    /// Stage `k + 1`'s input is stage `k`'s output, normalized with the *merged* statistics, so the
    /// stages cannot be exchanged at once: for each stage in chain order this member measures its
    /// input (`MomentContribution`), `exchange(k, contribution)` returns the merged moments of the
    /// step's members (in rank order), and the stage trains from them (`MomentSynchronizedStage.train`).
    ///
    /// `batch.min_rows` applies to the **merged** count (known after stage 0's exchange, and the same
    /// for every member): below it every member runs the batch in infer mode and nothing is learned.
    /// Like `process(_:mode:)` the step is atomic: a failure puts every statistic back.
    ///
    /// - Parameter inputValidated: as for `process(_:mode:inputValidated:)`.
    /// - Throws: `.unavailable` (from `exchange`) or `.stage` after every statistic was put back; `batch`
    ///   may then hold partly processed values, so a caller that wants to re-run it keeps a copy.
    @discardableResult
    public func processSynchronized(
        _ batch: inout FeatureBatch, inputValidated: Bool = false,
        exchange: (Int, MomentContribution) throws(SyncStepError) -> MomentContribution
    ) throws(SyncStepError) -> ChainOutcome {
        guard batch.features == featureCount else {
            throw .stage(.widthMismatch(expected: featureCount, got: batch.features))
        }
        if !inputValidated, let bad = batch.firstNonFinite() {
            throw .stage(.nonFinite(row: bad.row, column: bad.column, value: bad.value))
        }
        setStatisticsAside()
        for index in links.indices {
            let link = links[index]
            guard let stage = link.stage as? any MomentSynchronizedStage else {
                restoreStatisticsSetAside()
                throw .stage(.inStage(index: index, kind: link.stage.kind, .failed(kind: link.stage.kind, "cannot take part in a sync group")))
            }
            if !link.columns.isAll { gather(batch, into: &scratch[index], columns: link.columns) }
            let contribution =
                link.columns.isAll
                ? MomentContribution(of: batch, extremes: stage.contributesExtremes)
                : MomentContribution(of: scratch[index], extremes: stage.contributesExtremes)
            // The previous stage's output check, deferred to here (see `outputCheckDeferred`): moments
            // of every column are finite exactly when every value is.
            if index > 0 && Self.outputCheckDeferred(to: link) && !contribution.isFinite, let bad = batch.firstNonFinite() {
                restoreStatisticsSetAside()
                let previous = links[index - 1].stage.kind
                throw .stage(
                    .inStage(
                        index: index - 1, kind: previous, .nonFiniteOutput(kind: previous, row: bad.row, column: bad.column, value: bad.value)))
            }
            let merged: MomentContribution
            do throws(SyncStepError) {
                merged = try exchange(index, contribution)
            } catch {
                restoreStatisticsSetAside()
                throw error
            }
            if index == 0 && merged.count < Int64(minTrainingRows) {
                // Nothing has changed yet: the whole group runs this step in infer mode.
                downgradedBatches += 1
                if batch.rows > 0 {
                    do throws(StageError) { try process(&batch, mode: .infer, inputValidated: true) } catch { throw .stage(error) }
                }
                return ChainOutcome(mode: .infer, downgrade: .tooFewRows(rows: Int(clamping: merged.count), minimum: minTrainingRows))
            }
            do throws(StageError) {
                try train(stage, link: link, index: index, batch: &batch, merged: merged)
            } catch {
                restoreStatisticsSetAside()
                throw .stage(.inStage(index: index, kind: link.stage.kind, error))
            }
        }
        statsVersion &+= 1
        return ChainOutcome(mode: .train)
    }

    /// One stage of a synchronized step over its columns, with the checks `process` makes in train
    /// mode (a non-finite output before the next stage learns from it, non-finite statistics).
    private func train(
        _ stage: any MomentSynchronizedStage, link: ChainLink, index: Int,
        batch: inout FeatureBatch, merged: MomentContribution
    ) throws(StageError) {
        let checkOutput = index < links.count - 1 && !Self.outputCheckDeferred(to: links[index + 1])
        if link.columns.isAll {
            try stage.train(&batch, merged: merged)
            if checkOutput, let bad = batch.firstNonFinite() {
                throw .nonFiniteOutput(kind: stage.kind, row: bad.row, column: bad.column, value: bad.value)
            }
        } else {
            try stage.train(&scratch[index], merged: merged)
            if checkOutput, let bad = scratch[index].firstNonFinite() {
                throw .nonFiniteOutput(kind: stage.kind, row: bad.row, column: link.columns.indices[bad.column], value: bad.value)
            }
            scatter(scratch[index], into: &batch, columns: link.columns)
        }
        if !statisticsAreFinite(index) { throw .nonFiniteStatistics(kind: stage.kind) }
    }

    /// Whether a stage's output is checked for non-finite values through the next stage's
    /// contribution instead of a pass of its own: when `next` measures every column, its exact
    /// Float64 moments are finite exactly when every value is (a NaN or ±∞ makes its column's sums
    /// non-finite; finite Float32 values cannot overflow them), and they are computed before anything
    /// is sent, so the step fails with the same error, located by `firstNonFinite`, before the group
    /// sees the output. Saves a pass over the batch per stage inside the step's barrier.
    private static func outputCheckDeferred(to next: ChainLink) -> Bool { next.columns.isAll }
}
