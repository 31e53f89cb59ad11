internal import CZeroMQ
import Synchronization

/// A libzmq context: the I/O threads and the registry of sockets created from it.
///
/// Contexts are thread-safe in libzmq, so this class is `Sendable`: create one per process (or per
/// pipeline), hand it to the threads that own sockets, and let each thread create its own sockets.
///
/// Lifecycle, in the order a daemon should follow:
/// 1. Stop the loops cooperatively (a poll timeout or an inproc control message), flush, then
///    **close every socket** with a bounded linger.
/// 2. ``terminate()`` — it blocks until every socket of this context is closed and, for each one,
///    its linger period has expired; that is why linger must be bounded.
///
/// ``shutdown()`` is the emergency brake: every blocking call on every socket of the context returns
/// `ETERM` at once — and so does every *later* send, so use it only after the final flush.
///
/// Every ``ZMQSocket`` keeps a strong reference to its context, so the context's `deinit` (which
/// terminates) cannot run while one of its sockets is still alive and would deadlock.
public final class ZMQContext: @unchecked Sendable {
    private enum State { case running, terminating, terminated }

    /// The `void *` returned by `zmq_ctx_new`. Valid until ``terminate()`` has returned.
    let handle: UnsafeMutableRawPointer
    private let state = Mutex(State.running)

    /// Creates a context.
    /// - Parameter ioThreads: libzmq background I/O threads (libzmq's default is 1; one thread handles
    ///   roughly a gigabyte per second, so more only helps with several fast connections).
    /// - Throws: ``ZMQError`` if libzmq cannot create the context or rejects `ioThreads`.
    public init(ioThreads: Int = 1) throws {
        guard let threads = Int32(exactly: ioThreads), threads >= 0 else {
            throw ZMQError(errno: EINVAL, operation: "zmq_ctx_set ZMQ_IO_THREADS \(ioThreads)")
        }
        guard let handle = zmq_ctx_new() else {
            throw ZMQError.last("zmq_ctx_new")
        }
        self.handle = handle
        if zmq_ctx_set(handle, ZMQ_IO_THREADS, threads) != 0 {
            let error = ZMQError.last("zmq_ctx_set ZMQ_IO_THREADS \(ioThreads)")
            terminate()
            throw error
        }
    }

    deinit {
        terminate()
    }

    /// Makes every blocking operation on this context's sockets return `ETERM`, now and later.
    ///
    /// Safe to call from any thread, any number of times, also concurrently with ``terminate()``
    /// (then it does nothing: terminating already shuts down). It does not close sockets: their
    /// owning threads must still close them before ``terminate()`` can return.
    public func shutdown() {
        state.withLock { state in
            guard state == .running else { return }
            // Only fails with EFAULT for an invalid context, which the state rules out.
            _ = zmq_ctx_shutdown(handle)
        }
    }

    /// Shuts the context down and destroys it (`zmq_ctx_term`), blocking until all its sockets are
    /// closed and their linger periods have expired.
    ///
    /// `zmq_ctx_term` returns `EINTR` when a signal arrives while it waits; it is retried, because a
    /// half-terminated context cannot be used or freed. Idempotent: later calls return at once.
    /// Call it last, after closing the sockets — on a thread that does not own an open socket of this
    /// context, or it waits forever.
    public func terminate() {
        let mustTerminate = state.withLock { state in
            guard state == .running else { return false }
            state = .terminating
            return true
        }
        guard mustTerminate else { return }
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
        state.withLock { $0 = .terminated }
    }

    /// Whether ``terminate()`` has started or finished.
    public var isTerminated: Bool {
        state.withLock { $0 != .running }
    }
}
