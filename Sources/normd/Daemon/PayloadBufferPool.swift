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
/// Idle buffers kept: at most `max(minIdleBuffers, maxIdleBytes / batchBytes)`; a buffer checked in
/// beyond that is freed. Without this cap a stalled consumer's queue (up to 32 MiB of lent buffers)
/// stayed in the pool for good: the soak test's RSS floor rose 43.8 → 47.0 MiB in a fresh-clone CI
/// run (43.1 → 43.4 before the pool). Freed buffers go back to malloc, which the rest of the daemon
/// (and libzmq's copies) reuse, as before the pool.
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
        var free: [PayloadBuffer]
        var created = 0
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
    /// Idle buffers kept for reuse: at most this many bytes' worth, but at least `minIdleBuffers`.
    static let maxIdleBytes = 1 << 20
    static let minIdleBuffers = 4

    init(maxBuffers: Int = defaultMaxBuffers, maxBytes: Int = defaultMaxBytes) {
        precondition(maxBuffers >= 0 && maxBytes >= 0)
        self.maxBuffers = maxBuffers
        self.maxBytes = maxBytes
        var free: [PayloadBuffer] = []
        free.reserveCapacity(maxBuffers)
        state = Mutex(State(free: free))
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
            while let buffer = state.free.popLast() {
                if buffer.batch.features == batch.features && buffer.batch.rowCapacity >= rows { return buffer }
                state.created -= 1
            }
            guard state.created < limit else { return .some(nil) }
            state.created += 1
            return nil // make one, outside the lock
        }
        if let reused { return reused }
        // Full rows, so a batcher given this storage refills it without a zero-fill pass.
        return PayloadBuffer(batch: FeatureBatch(rows: rows, features: batch.features), pool: self)
    }

    /// Returns a buffer libzmq (or a failed lend) is done with; frees it instead when the kept idle
    /// buffers are already `max(minIdleBuffers, maxIdleBytes / batchBytes)`.
    func checkIn(_ buffer: PayloadBuffer) {
        let batchBytes = max(1, buffer.batch.rowCapacity * buffer.batch.features * MemoryLayout<Float>.size)
        let keep = max(Self.minIdleBuffers, Self.maxIdleBytes / batchBytes)
        let surplus: PayloadBuffer? = state.withLock { state in
            guard state.free.count < keep else {
                state.created -= 1
                return buffer
            }
            state.free.append(buffer)
            return nil
        }
        _ = surplus // released here, outside the lock
    }

    /// Buffers out of the pool right now (lent to libzmq, or checked out and not yet lent).
    var inFlight: Int {
        state.withLock { $0.created - $0.free.count }
    }

    /// Buffers made so far (at most `maxBuffers`).
    var created: Int {
        state.withLock { $0.created }
    }
}
