/// The sizes of the batches most recently handed to libzmq, to bound how many of them a close
/// can still lose (`handed_over_unconfirmed` in the final counts).
///
/// When an output closes with batches not yet delivered, three buffers are lost on the way:
/// - libzmq's queue for the connection: whole messages, at most SNDHWM of them;
/// - the connection's engine buffer (`ZMQ_OUT_BATCH_SIZE`, 8 KiB): bytes of messages already
///   taken off the queue but not yet written to the kernel (at least one message);
/// - for `ipc://`, the Unix socket's kernel buffer (the sender's SO_SNDBUF): a consumer whose
///   libzmq is at its RCVHWM when the peer hangs up drops the connection without reading it.
///   (Over TCP, what reached the kernel is still delivered after the close.)
/// The queue is counted in messages, the buffers in bytes — hence the sizes of recent sends:
/// N = SNDHWM newest batches + the older ones whose bytes fit in the buffers + the one straddling.
struct RecentSends {
    private var sizes: [Int]
    private var next = 0
    /// Batches recorded since the start (the pipeline's `batches` published).
    private(set) var recorded = 0

    init(capacity: Int = 4096) {
        sizes = Array(repeating: 0, count: max(1, capacity))
    }

    mutating func record(bytes: Int) {
        sizes[next] = bytes
        next = (next + 1) % sizes.count
        recorded += 1
    }

    /// At most how many of the recorded batches may not have left normd's side: the newest
    /// `queuedMessages`, then older ones while their bytes fit in `bufferedBytes`. When the sizes
    /// needed were already overwritten, every recorded batch counts (the bound must never be low).
    func unconfirmed(queuedMessages: Int, bufferedBytes: Int) -> Int {
        let known = min(recorded, sizes.count)
        var count = min(max(0, queuedMessages), known)
        var bytes = 0
        while count < known && bytes < bufferedBytes {
            bytes += sizes[(next - 1 - count + 2 * sizes.count) % sizes.count]
            count += 1
        }
        if count == known && bytes < bufferedBytes && recorded > known { return recorded }
        return count
    }
}
