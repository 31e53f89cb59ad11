internal import CZeroMQ

/// A libzmq socket.
///
/// **One thread only.** libzmq sockets are not thread-safe: create, use and close a socket on the
/// same thread (the one running its loop). That is why this class is deliberately not `Sendable`;
/// to stop a loop from elsewhere, wake it with a poll timeout or an inproc control socket, or — after
/// the final flush — shut the context down (``ZMQContext/shutdown()``), which makes blocked calls
/// throw `ETERM`.
///
/// **Closing.** ``close()`` (or `deinit`) hands unsent messages to the context, which keeps trying to
/// deliver them for the linger period before ``ZMQContext/terminate()`` can return; the libzmq default
/// is to wait forever, so set a bounded ``setLinger(milliseconds:)`` on every socket that sends.
///
/// A socket holds a strong reference to its context, so the context outlives its sockets.
public final class ZMQSocket {
    /// The context the socket was created from.
    public let context: ZMQContext
    /// The messaging pattern.
    public let type: ZMQSocketType
    /// The `void *` from `zmq_socket`; `nil` once closed.
    private(set) var handle: UnsafeMutableRawPointer?

    /// Creates a socket of `type` in `context`, owned by the calling thread.
    /// - Throws: ``ZMQError``, for example `ETERM` if the context was shut down or `EMFILE` when
    ///   the context's socket limit is reached.
    public init(context: ZMQContext, type: ZMQSocketType) throws {
        self.context = context
        self.type = type
        guard let handle = zmq_socket(context.handle, type.rawType) else {
            throw ZMQError.last("zmq_socket \(type)")
        }
        self.handle = handle
    }

    deinit {
        close()
    }

    /// Closes the socket (`zmq_close`). Idempotent; every later operation throws `ENOTSOCK`.
    /// Pending outgoing messages are delivered in the background for at most the linger period.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        zmq_close(handle) // fails only with ENOTSOCK, ruled out by the nil check
    }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { handle == nil }

    /// Binds to a local endpoint: `tcp://127.0.0.1:5555`, `tcp://*:*` (any free port — read the real
    /// one from ``lastEndpoint``), `ipc:///run/normd/in.sock`, `inproc://name`.
    /// - Throws: ``ZMQError`` naming the endpoint: `EADDRINUSE`, `EINVAL` (malformed),
    ///   `EPROTONOSUPPORT` (unknown transport), `ENODEV`, …
    public func bind(_ endpoint: String) throws {
        let handle = try openHandle("bind \(endpoint)")
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError.last("bind \(endpoint)") }
    }

    /// Connects to a remote endpoint. Connecting is asynchronous: it succeeds before the peer exists,
    /// and libzmq reconnects on its own (see ``setReconnectInterval(milliseconds:)``).
    /// - Throws: ``ZMQError`` naming the endpoint for a malformed endpoint or unknown transport.
    public func connect(_ endpoint: String) throws {
        let handle = try openHandle("connect \(endpoint)")
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("connect \(endpoint)") }
    }

    /// Stops listening on an endpoint given to ``bind(_:)`` (use ``lastEndpoint`` for wildcards).
    public func unbind(_ endpoint: String) throws {
        let handle = try openHandle("unbind \(endpoint)")
        guard zmq_unbind(handle, endpoint) == 0 else { throw ZMQError.last("unbind \(endpoint)") }
    }

    /// Drops a connection made with ``connect(_:)``.
    public func disconnect(_ endpoint: String) throws {
        let handle = try openHandle("disconnect \(endpoint)")
        guard zmq_disconnect(handle, endpoint) == 0 else { throw ZMQError.last("disconnect \(endpoint)") }
    }

    /// The endpoint of the last bind or connect (`ZMQ_LAST_ENDPOINT`), with wildcards resolved:
    /// after `bind("tcp://127.0.0.1:*")` it is e.g. `tcp://127.0.0.1:41234`, ready to connect to.
    /// Empty if the socket has not been bound or connected.
    public var lastEndpoint: String {
        get throws {
            let handle = try openHandle("getsockopt ZMQ_LAST_ENDPOINT")
            // Large enough for any ipc path (sun_path is 108 bytes) or tcp address with the prefix.
            var buffer = [CChar](repeating: 0, count: 512)
            var length = buffer.count
            guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &length) == 0 else {
                throw ZMQError.last("getsockopt ZMQ_LAST_ENDPOINT")
            }
            return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
    }

    /// The open handle, or `ENOTSOCK` when the socket was closed.
    func openHandle(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(errno: ENOTSOCK, operation: operation()) }
        return handle
    }
}
