internal import CZeroMQ

/// Socket events a monitor can report (`zmq_socket_monitor`'s event mask, stable events of libzmq 4.3).
public struct ZMQMonitorEvents: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A listening socket accepted a connection; the value is its file descriptor.
    public static let accepted = ZMQMonitorEvents(rawValue: UInt16(ZMQ_EVENT_ACCEPTED))
    /// A connection ended (for any reason — libzmq gives none); the value is its file descriptor.
    public static let disconnected = ZMQMonitorEvents(rawValue: UInt16(ZMQ_EVENT_DISCONNECTED))
    /// The monitored socket was closed (or its context terminated): the last event.
    public static let monitorStopped = ZMQMonitorEvents(rawValue: UInt16(ZMQ_EVENT_MONITOR_STOPPED))
    /// The ZMTP handshake (and any ZAP check) succeeded.
    public static let handshakeSucceeded = ZMQMonitorEvents(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
    /// The ZAP handler refused the peer; the value is the ZAP status code (e.g. 400).
    public static let handshakeFailedAuth = ZMQMonitorEvents(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
}

/// One event read from a monitor socket: its kind, its value (a file descriptor, an errno or a
/// status code, depending on the kind) and the endpoint it concerns.
public struct ZMQMonitorEvent: Sendable, Equatable {
    public var kind: ZMQMonitorEvents
    public var value: UInt32
    public var endpoint: String
}

extension ZMQSocket {
    /// Sets the ZAP domain (`ZMQ_ZAP_DOMAIN`). With a domain set, libzmq 4.3 asks the ZAP handler
    /// bound at `inproc://zeromq.zap.01` on the same context about every new connection, also for
    /// the NULL mechanism (no encryption): a handler can refuse peers before any message is read.
    public func setZAPDomain(_ domain: String) throws {
        try Array(domain.utf8).withUnsafeBytes { bytes in
            let handle = try openHandle("setsockopt ZMQ_ZAP_DOMAIN")
            guard zmq_setsockopt(handle, ZMQ_ZAP_DOMAIN, bytes.baseAddress, bytes.count) == 0 else {
                throw ZMQError.last("setsockopt ZMQ_ZAP_DOMAIN \(domain)")
            }
        }
    }

    /// Starts publishing `events` of this socket on a PAIR socket bound at `endpoint` (an
    /// `inproc://` name; `zmq_socket_monitor`). Connect a ``ZMQSocketType/pair`` socket there
    /// *before* the events happen — libzmq drops events nobody is connected for — and read them
    /// with ``receiveMonitorEvent(flags:)``. Closing this socket ends the monitor (with
    /// ``ZMQMonitorEvents/monitorStopped`` when asked for).
    public func startMonitor(endpoint: String, events: ZMQMonitorEvents) throws {
        let handle = try openHandle("zmq_socket_monitor \(endpoint)")
        guard zmq_socket_monitor(handle, endpoint, Int32(events.rawValue)) == 0 else {
            throw ZMQError.last("zmq_socket_monitor \(endpoint)")
        }
    }

    /// Reads one event from a monitor PAIR socket: two frames, `[u16 event][u32 value]` in host
    /// byte order, then the endpoint text.
    /// - Returns: `nil` when none is waiting (``ZMQFlags/dontWait``) or the receive timed out.
    /// - Throws: ``ZMQError``; `EPROTO` for frames that are not a libzmq 4.3 monitor event.
    public func receiveMonitorEvent(flags: ZMQFlags = []) throws -> ZMQMonitorEvent? {
        var parts = ZMQMultipart(reservingCapacity: 2)
        guard try receiveMultipart(into: &parts, flags: flags) else { return nil }
        guard parts.count == 2, parts[0].size == 6 else {
            throw ZMQError(errno: EPROTO, operation: "monitor event with \(parts.count) frames")
        }
        let (kind, value) = parts[0].withUnsafeBytes { bytes in
            (bytes.loadUnaligned(as: UInt16.self), bytes.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        let endpoint = parts[1].withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        return ZMQMonitorEvent(kind: ZMQMonitorEvents(rawValue: kind), value: value, endpoint: endpoint)
    }
}
