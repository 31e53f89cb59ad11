import NormCore
import StageKit

/// `chain_thread: true` on the engine: a full batch goes to the chain thread and intake goes on
/// filling the next one; the batch is published when the engine next needs the chain — the next
/// batch is full, the intake burst ended (`finishInFlight`, called by the socket loop), a flush, a
/// reload, a mode switch, a snapshot.
///
/// The rule that keeps this simple: **at most one batch is on the chain thread, and every use of
/// the chain on the engine's own thread comes after `finishInFlight`.** Only `emitWaiting` leaves a
/// batch in flight, and only the intake path (`accept`) calls it that way; every other entry point
/// (`flushPartial`, `replace`, `switchMode`'s caller, snapshots) runs after the socket loop's
/// `finishInFlight` or calls it first. Batches therefore get their numbers, are published and are
/// counted in the order they filled, exactly as without the thread: the output is the same, bit
/// for bit (ChainThreadTests).
///
/// Not with `sync:` (configuration refuses it): a sync step exchanges moments through sockets
/// that belong to the pipeline's thread. A synchronizer set anyway makes the engine run the chain itself.
extension PipelineEngine {
    /// What the engine keeps of a batch while the chain thread has it.
    struct InFlightBatch {
        var origins: [RowOrigin]
        let retryable: Bool
        let completedAt: ContinuousClock.Instant
    }

    /// Starts or stops the chain thread to match `settings.chainThread` (at init and after a reload).
    func updateChainThread() {
        if settings.chainThread, chainThread == nil {
            chainThread = ChainThread(name: "chain-\(settings.name)")
        } else if !settings.chainThread, let thread = chainThread {
            finishInFlight()
            thread.stop()
            chainThread = nil
        }
    }

    /// Ends the chain thread, publishing the batch it holds first. The socket loop calls this when it
    /// ends; afterwards the engine runs the chain itself.
    public func stopChainThread() {
        finishInFlight()
        chainThread?.stop()
        chainThread = nil
    }

    /// Publishes the batch on the chain thread, waiting for the chain if it is still running; does
    /// nothing when none is. Call before anything that reads or changes the chain or the counts of
    /// published batches (the socket loop calls it after every intake burst).
    public func finishInFlight() {
        guard let chainThread, var flight = inFlight else { return }
        inFlight = nil
        var job = chainThread.finish()
        swap(&retryCopy, &job.retry)
        retryCopyIsCurrent = job.retryKept
        var batch = FeatureBatch(rows: 0, features: featureCount)
        swap(&batch, &job.batch)
        complete(
            &batch, origins: flight.origins, result: job.result, retryable: flight.retryable, chainDuration: job.duration,
            completedAt: flight.completedAt)
        // The storage comes back (publish kept its capacity) as the batcher's next spare.
        swap(&spareBatch, &batch)
        flight.origins.removeAll(keepingCapacity: true)
        swap(&spareOrigins, &flight.origins)
        // Arrival stamps taken before this wait are raised past it (see `MessageIntake.notBefore`).
        intake.notBefore = .now
    }

    /// `emitWaiting` with a chain thread: finish the previous batch, give the batcher the spare
    /// storage, hand the waiting batch to the chain thread and return while it runs.
    func dispatchWaiting(partial: Bool, to chainThread: ChainThread) {
        finishInFlight()
        var batch = FeatureBatch(rows: 0, features: featureCount) // empty: no allocation
        var origins: [RowOrigin] = []
        intake.batcher.takeWaiting(into: &batch, origins: &origins)
        intake.batcher.restart(reusing: &spareBatch, origins: &spareOrigins)
        prepareBatch(partial: partial)
        var retry = FeatureBatch(rows: 0, features: featureCount)
        swap(&retry, &retryCopy)
        inFlight = InFlightBatch(
            origins: origins, retryable: settings.mode == .train, completedAt: intake.newestArrival?.instant ?? .now)
        // Consumed: the chain thread must hold the only reference, or its first write would copy.
        chainThread.start(ChainThread.Job(chain: chain, batch: consume batch, mode: settings.mode, retry: consume retry))
    }
}
