internal import CZeroMQ

/// A failed libzmq call: the `errno` libzmq reported, its text, and what was being attempted.
///
/// libzmq reports failures through a thread-local `errno` (read with `zmq_errno()`), so the error is
/// captured immediately after the failing call, on the same thread. The `operation` names the call and
/// its argument (for example `bind tcp://127.0.0.1:5555`) because an errno alone ("Address already in
/// use") does not say which of several endpoints was at fault.
public struct ZMQError: Error, Equatable, CustomStringConvertible {
    /// The POSIX or libzmq error number (`EINVAL`, `EADDRINUSE`, libzmq's own `ETERM`, …).
    public let errno: Int32
    /// The text libzmq gives for `errno` (`zmq_strerror`).
    public let message: String
    /// What failed, with its argument: `"bind tcp://127.0.0.1:5555"`, `"setsockopt ZMQ_LINGER"`.
    public let operation: String

    /// Creates an error for `errno`, looking up its text with `zmq_strerror`.
    public init(errno: Int32, operation: String) {
        self.errno = errno
        self.message = String(cString: zmq_strerror(errno))
        self.operation = operation
    }

    /// The error libzmq just reported on this thread. Call it right after the failing call.
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        let code = zmq_errno()
        return ZMQError(errno: code, operation: operation())
    }

    /// `bind tcp://x: Address already in use (errno 98)`.
    public var description: String {
        "\(operation): \(message) (errno \(errno))"
    }

    /// `EINTR`: a signal interrupted a blocking call. The wrapper retries these itself; callers
    /// normally only see it from `ZMQContext` operations they asked to be interruptible.
    public var isInterrupted: Bool { errno == EINTR }

    /// `ETERM`: the context was shut down or terminated. The socket will never work again: close it.
    public var isTerminated: Bool { errno == ZMQError.eterm }

    /// `EAGAIN`: a non-blocking call would have blocked, or a send/receive timeout expired.
    public var wouldBlock: Bool { errno == EAGAIN }

    /// `ENOTSOCK`: the socket was already closed.
    public var isClosedSocket: Bool { errno == ENOTSOCK }

    /// libzmq's own `ETERM` (`ZMQ_HAUSNUMERO + 53`); it has no POSIX equivalent.
    public static let eterm: Int32 = ETERM
}
