internal import CZeroMQ

/// Flags for sending and receiving.
public struct ZMQFlags: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `ZMQ_DONTWAIT`: fail with `EAGAIN` instead of blocking; the wrapper reports that as `false`.
    public static let dontWait = ZMQFlags(rawValue: ZMQ_DONTWAIT)
    /// `ZMQ_SNDMORE`: another frame of the same message follows. libzmq delivers multipart messages
    /// atomically: peers receive all frames or none, and nothing leaves before the last frame.
    public static let sendMore = ZMQFlags(rawValue: ZMQ_SNDMORE)
}

/// Readiness of a socket, as reported by ``ZMQPoller`` and ``ZMQSocket/events``.
public struct ZMQPollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// `ZMQ_POLLIN`: at least one whole message can be received without blocking.
    public static let pollIn = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// `ZMQ_POLLOUT`: at least one message can be sent without blocking (below the high-water mark).
    public static let pollOut = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}
