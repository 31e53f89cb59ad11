import NormCore
import Synchronization
import ZeroMQ

/// One batch's storage while libzmq sends it without a copy: the sink swaps a published batch into
/// it, lends its values to libzmq as the payload frame, and libzmq's free callback
/// (``bytesReleased()``) checks it back into its pool once the bytes are written out or dropped.
///
/// `@unchecked Sendable`: `batch` is touched only by the thread that checked the buffer out (the
/// pipeline's socket thread), before lending it and after the pool handed it out again; between
/// those, libzmq only reads the bytes. The pool's mutex orders the hand-over from libzmq's thread
/// (check-in) to the socket thread (the next check-out).
final class PayloadBuffer: ZMQMessageOwner, @unchecked Sendable {
    /// The lent batch; its storage is what the payload frame points into.
    var batch: FeatureBatch
    /// Weak: the pool holds its free buffers, and a buffer libzmq releases after the sink (and so
    /// the pool) is gone is simply freed.
    private weak let pool: PayloadBufferPool?

    init(batch: FeatureBatch, pool: PayloadBufferPool) {
        self.batch = batch
        self.pool = pool
    }

    /// The batch's values as bytes, to lend to libzmq; valid while the buffer is out.
    func withPayloadBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try batch.withUnsafeValues { try body(UnsafeRawBufferPointer($0)) }
    }

    func bytesReleased() {
        pool?.checkIn(self)
    }
}

/// A bounded set of ``PayloadBuffer``s for one output, so that the tensor payload of a published
/// batch goes out without `zmq_send` copying it into a fresh libzmq buffer.
///
/// Bounds (Docs/LIMITS.md): at most `min(maxBuffers, maxBytes / batchBytes)` buffers exist, where
/// `batchBytes = rowCapacity × features × 4` is one batch's storage, so together they hold at most
/// ``maxBytes`` (a batch larger than that is always copied). Buffers are made on demand, so a consumer that keeps up needs only the few that are in
/// flight at once. When every buffer is out (a slow consumer with a deep queue), ``checkOut(like:)``
/// returns `nil` and the sink sends a copy as before: it never waits for a buffer and never
/// allocates beyond the bound.
///
/// Idle buffers are given back by time, not on check-in: ``trimIdle(now:)`` (the pipeline's loop
/// calls it every 100 ms) frees the buffers that sat in the free list for a whole ``trimPeriod``
/// (250 ms) — the fewest free buffers seen since the last trim, `fewestFree`, were never needed in
/// that time — down to a reserve of `max(minIdleBuffers, maxIdleBytes / batchBytes)`, oldest first.
/// Why by time: at full rate libzmq's queue of lent buffers swells and drains by hundreds at a time,
/// and freeing every check-in beyond the reserve (session 9's rule) made 17 % of the batches at
/// 16 features × 64-row messages allocate (and zero-fill, and fault in) a new buffer: 13 047 made in
/// 3 s (perf probe); with this rule 653 in 5 s (0.8 % of the check-outs; a 1 s period made 0.2 %).
/// Why at all, and why so short a period: a stalled consumer's queue can hold all 32 MiB of
/// buffers, and kept for good they raised the soak test's RSS floor (43.8 → 47.0 MiB in a
/// fresh-clone CI run, 43.1 → 43.4 before the pool); with a 1 s period the soak's RSS still climbed
/// 44.8 → 47.8 MiB over its minute (idle buffers held that long are memory nothing else can reuse),
/// with 250 ms it read 46.5 → 46.6 on the same loaded machine. Freed buffers go back to malloc,
/// which the rest of the daemon (and libzmq's copies) reuse.
///
/// Once warm nothing here allocates while at most the kept number are in flight: the free list's
/// capacity is reserved for every buffer there can be, and check-in and check-out only move references under the mutex. Check-in runs on
/// whatever thread libzmq releases the frame on (its I/O thread, or the sender inside a send).
final class PayloadBufferPool: Sendable {
    /// At most this many buffers exist.
    let maxBuffers: Int
    /// At most this many bytes of batch storage are held in buffers.
    let maxBytes: Int

    private struct State {
        /// Free buffers, the most recently checked in last (check-out takes the warmest).
        var free: [PayloadBuffer]
        var created = 0
        var made = 0
        /// The fewest free buffers since the last trim: that many sat idle all the while.
        var fewestFree = 0
        var lastTrim: ContinuousClock.Instant
    }

    private let state: Mutex<State>

    /// The daemon's bound per output: 32 MiB, and at most 4096 buffers (which bounds the free list,
    /// reserved up front, for tiny batches). Why that many: a buffer is out for as long as its frame
    /// waits in libzmq's queue, and at full rate that queue (up to `queue_bytes`, 64 MiB by default)
    /// is deep — with 16 KiB batches (16 features × 256 rows) over TCP, 8 buffers lent only ~24 % of
    /// the payloads and 64 only ~36 %, the rest were copied; 32 MiB (2048 such buffers) lent ~100 %
    /// (`perf stat` of `zmq_msg_init_data` vs `zmq_send` calls, BENCHMARKS.md "Issue 15, zero-copy send").
    static let defaultMaxBuffers = 4096
    static let defaultMaxBytes = 32 << 20
    /// Idle buffers a trim keeps for reuse: at most this many bytes' worth, but at least `minIdleBuffers`.
    static let maxIdleBytes = 1 << 20
    static let minIdleBuffers = 4
    /// A buffer idle for this long is surplus (``trimIdle(now:)``).
    static let trimPeriod = Duration.milliseconds(250)

    init(maxBuffers: Int = defaultMaxBuffers, maxBytes: Int = defaultMaxBytes, now: ContinuousClock.Instant = .now) {
        precondition(maxBuffers >= 0 && maxBytes >= 0)
        self.maxBuffers = maxBuffers
        self.maxBytes = maxBytes
        var free: [PayloadBuffer] = []
        free.reserveCapacity(maxBuffers)
        state = Mutex(State(free: free, lastTrim: now))
    }

    /// A free buffer whose batch has `batch`'s width and at least its row capacity, ready to swap
    /// with it; `nil` when every buffer is in flight and the bound allows no new one.
    ///
    /// A free buffer that does not fit — another width (never, for one output), or less capacity
    /// (after a reload raised `batch.size`) — is dropped, and a fitting one made in its place.
    func checkOut(like batch: FeatureBatch) -> PayloadBuffer? {
        let rows = batch.rowCapacity
        let limit = min(maxBuffers, maxBytes / max(1, rows * batch.features * MemoryLayout<Float>.size))
        let reused: PayloadBuffer?? = state.withLock { state in
            defer { state.fewestFree = min(state.fewestFree, state.free.count) }
            while let buffer = state.free.popLast() {
                if buffer.batch.features == batch.features && buffer.batch.rowCapacity >= rows { return buffer }
                state.created -= 1
            }
            guard state.created < limit else { return .some(nil) }
            state.created += 1
            state.made += 1
            return nil // make one, outside the lock
        }
        if let reused { return reused }
        // Full rows, so a batcher given this storage refills it without a zero-fill pass.
        return PayloadBuffer(batch: FeatureBatch(rows: rows, features: batch.features), pool: self)
    }

    /// Returns a buffer libzmq (or a failed lend) is done with, for reuse; ``trimIdle(now:)`` frees it
    /// if it then sits idle.
    func checkIn(_ buffer: PayloadBuffer) {
        state.withLock { $0.free.append(buffer) }
    }

    /// Frees the buffers that sat idle for the whole time since the last trim, once that is at least
    /// ``trimPeriod``, keeping a reserve of `max(minIdleBuffers, maxIdleBytes / batchBytes)`; the
    /// longest idle go first. Returns how many it freed (0 before the period is over).
    @discardableResult
    func trimIdle(now: ContinuousClock.Instant = .now) -> Int {
        let surplus: [PayloadBuffer] = state.withLock { state in
            guard now - state.lastTrim >= Self.trimPeriod else { return [] }
            state.lastTrim = now
            defer { state.fewestFree = state.free.count }
            guard let sample = state.free.first else { return [] }
            let batchBytes = max(1, sample.batch.rowCapacity * sample.batch.features * MemoryLayout<Float>.size)
            let reserve = max(Self.minIdleBuffers, Self.maxIdleBytes / batchBytes)
            let idle = min(state.fewestFree, state.free.count)
            guard idle > reserve else { return [] }
            // Copied out element by element (no slice shares the free list's storage), so the removal
            // happens in place and the free list keeps the capacity reserved for every buffer.
            var oldest: [PayloadBuffer] = []
            oldest.reserveCapacity(idle - reserve)
            for index in 0..<(idle - reserve) { oldest.append(state.free[index]) }
            state.free.removeFirst(oldest.count)
            state.created -= oldest.count
            return oldest
        }
        return surplus.count // released here, outside the lock
    }

    /// Buffers out of the pool right now (lent to libzmq, or checked out and not yet lent).
    var inFlight: Int {
        state.withLock { $0.created - $0.free.count }
    }

    /// Buffers that exist now, lent or free (at most `maxBuffers`).
    var created: Int {
        state.withLock { $0.created }
    }

    /// Buffers made since the pool began, freed ones included. Once warm it should grow only when the
    /// queue reaches a depth it has not had for a trim period (0.8 % of check-outs at 16 features ×
    /// 64-row messages): each one made costs a batch-sized allocation, zero-fill and page faults.
    var made: Int {
        state.withLock { $0.made }
    }
}
