internal import CZeroMQ

/// Typed socket options. Each setter names the libzmq option it sets; values are checked for range
/// here (`EINVAL`) so a misconfiguration fails with the option's name instead of being truncated.
extension ZMQSocket {
    /// How long ``close()`` keeps trying to deliver unsent messages (`ZMQ_LINGER`); `-1` = forever
    /// (libzmq's default), `0` = drop them at once.
    ///
    /// Bound it: ``ZMQContext/terminate()`` waits for every socket's linger, so with the default a
    /// daemon whose peer is gone never exits.
    public func setLinger(milliseconds: Int) throws {
        try setInt32(ZMQ_LINGER, "ZMQ_LINGER", milliseconds)
    }

    /// The current `ZMQ_LINGER` in milliseconds.
    public var linger: Int { get throws { try getInt32(ZMQ_LINGER, "ZMQ_LINGER") } }

    /// Outgoing queue limit in *messages* (`ZMQ_SNDHWM`; default 1000, 0 = unlimited). At the limit
    /// PUSH/DEALER block (or report would-block), PUB drops. Derive it from a byte budget: 1000
    /// batches of several MiB each is gigabytes.
    public func setSendHighWaterMark(_ messages: Int) throws {
        try setInt32(ZMQ_SNDHWM, "ZMQ_SNDHWM", messages)
    }

    /// The current `ZMQ_SNDHWM`.
    public var sendHighWaterMark: Int { get throws { try getInt32(ZMQ_SNDHWM, "ZMQ_SNDHWM") } }

    /// Incoming queue limit in *messages* (`ZMQ_RCVHWM`; default 1000, 0 = unlimited).
    public func setReceiveHighWaterMark(_ messages: Int) throws {
        try setInt32(ZMQ_RCVHWM, "ZMQ_RCVHWM", messages)
    }

    /// Which of the context's libzmq I/O threads serve this socket's listeners and connections made
    /// from now on (`ZMQ_AFFINITY`, a bit mask: bit N = I/O thread N; 0, the default, lets libzmq pick
    /// the least loaded, which may put every socket on one thread). Set it before `bind`/`connect`.
    public func setAffinity(ioThreadMask mask: UInt64) throws {
        try setOption(ZMQ_AFFINITY, "ZMQ_AFFINITY", mask)
    }

    /// The current `ZMQ_AFFINITY` mask.
    public var affinity: UInt64 { get throws { try getOption(ZMQ_AFFINITY, "ZMQ_AFFINITY", as: UInt64.self) } }

    /// The current `ZMQ_RCVHWM`.
    public var receiveHighWaterMark: Int { get throws { try getInt32(ZMQ_RCVHWM, "ZMQ_RCVHWM") } }

    /// The largest frame a peer may send (`ZMQ_MAXMSGSIZE`, bytes; `-1` = no limit). A peer that sends
    /// a larger frame is disconnected and the frame is never delivered: a guard against a buggy or
    /// hostile producer making the daemon allocate without bound.
    public func setMaxMessageSize(_ bytes: Int64) throws {
        try setOption(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", bytes)
    }

    /// The current `ZMQ_MAXMSGSIZE`.
    public var maxMessageSize: Int64 {
        get throws { try getOption(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", as: Int64.self) }
    }

    /// Accepts messages whose first frame starts with `prefix` (`ZMQ_SUBSCRIBE`; SUB/XSUB). A SUB
    /// socket receives nothing until it subscribes; an empty prefix subscribes to everything.
    public func subscribe(_ prefix: [UInt8]) throws {
        try prefix.withUnsafeBytes { try setBytes(ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", $0) }
    }

    /// Subscribes to the UTF-8 bytes of `prefix`.
    public func subscribe(_ prefix: String) throws {
        try subscribe(Array(prefix.utf8))
    }

    /// Removes one earlier ``subscribe(_:)-([UInt8])`` of exactly `prefix` (`ZMQ_UNSUBSCRIBE`).
    public func unsubscribe(_ prefix: [UInt8]) throws {
        try prefix.withUnsafeBytes { try setBytes(ZMQ_UNSUBSCRIBE, "ZMQ_UNSUBSCRIBE", $0) }
    }

    /// Unsubscribes the UTF-8 bytes of `prefix`.
    public func unsubscribe(_ prefix: String) throws {
        try unsubscribe(Array(prefix.utf8))
    }

    /// Queue messages only to completed connections (`ZMQ_IMMEDIATE`). Set it on a connecting PUSH so
    /// messages are not parked on a peer that is down while another could take them.
    public func setImmediate(_ enabled: Bool) throws {
        try setInt32(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE", enabled ? 1 : 0)
    }

    /// On XPUB, report a full subscriber queue as `EAGAIN` instead of silently dropping
    /// (`ZMQ_XPUB_NODROP`), so drops can be counted; combine with ``ZMQFlags/dontWait``.
    public func setXPubNoDrop(_ enabled: Bool) throws {
        try setInt32(ZMQ_XPUB_NODROP, "ZMQ_XPUB_NODROP", enabled ? 1 : 0)
    }

    /// First delay before reconnecting a dropped connection (`ZMQ_RECONNECT_IVL`; default 100 ms,
    /// `-1` = never reconnect).
    public func setReconnectInterval(milliseconds: Int) throws {
        try setInt32(ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL", milliseconds)
    }

    /// Upper bound of the exponential reconnect back-off (`ZMQ_RECONNECT_IVL_MAX`; default 0 = no
    /// back-off). A back-off keeps a restarting peer from being hammered.
    public func setReconnectIntervalMax(milliseconds: Int) throws {
        try setInt32(ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX", milliseconds)
    }

    /// TCP keep-alive on this socket's connections (`ZMQ_TCP_KEEPALIVE` and its `_IDLE`, `_INTVL`,
    /// `_CNT`): after `idleSeconds` without traffic the kernel sends up to `probes` empty probes,
    /// `intervalSeconds` apart, and drops a connection that answers none. Unlike a ZMTP heartbeat,
    /// a probe carries no data, so it cannot make a peer's kernel reset a connection that peer has
    /// closed while data was still on its way.
    public func setTCPKeepAlive(idleSeconds: Int, intervalSeconds: Int, probes: Int) throws {
        try setInt32(ZMQ_TCP_KEEPALIVE, "ZMQ_TCP_KEEPALIVE", 1)
        try setInt32(ZMQ_TCP_KEEPALIVE_IDLE, "ZMQ_TCP_KEEPALIVE_IDLE", idleSeconds)
        try setInt32(ZMQ_TCP_KEEPALIVE_INTVL, "ZMQ_TCP_KEEPALIVE_INTVL", intervalSeconds)
        try setInt32(ZMQ_TCP_KEEPALIVE_CNT, "ZMQ_TCP_KEEPALIVE_CNT", probes)
    }

    /// Sends a ZMTP PING every `milliseconds` (`ZMQ_HEARTBEAT_IVL`; 0 = off). Without heartbeats a
    /// peer that vanished without closing TCP (a killed pod) stays "connected" for hours.
    public func setHeartbeatInterval(milliseconds: Int) throws {
        try setInt32(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", milliseconds)
    }

    /// How long the *peer* may wait for traffic before dropping us (`ZMQ_HEARTBEAT_TTL`; sent in
    /// PINGs, resolution 100 ms, at most 6 553 599 ms).
    public func setHeartbeatTTL(milliseconds: Int) throws {
        try setInt32(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", milliseconds)
    }

    /// How long to wait for traffic after a PING before dropping the connection
    /// (`ZMQ_HEARTBEAT_TIMEOUT`; default: the heartbeat interval).
    public func setHeartbeatTimeout(milliseconds: Int) throws {
        try setInt32(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT", milliseconds)
    }

    /// Bounds blocking sends (`ZMQ_SNDTIMEO`; `-1` = block forever, the default). When it expires,
    /// send reports would-block (`false`).
    public func setSendTimeout(milliseconds: Int) throws {
        try setInt32(ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO", milliseconds)
    }

    /// Bounds blocking receives (`ZMQ_RCVTIMEO`; `-1` = block forever, the default). When it expires,
    /// receive reports would-block (`false` / `nil`).
    public func setReceiveTimeout(milliseconds: Int) throws {
        try setInt32(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO", milliseconds)
    }

    /// Enables or disables TCP keep-alive on the socket's connections (`ZMQ_TCP_KEEPALIVE`; the
    /// default leaves the OS setting). Keeps NAT/conntrack entries of idle connections alive.
    public func setTCPKeepalive(_ enabled: Bool) throws {
        try setInt32(ZMQ_TCP_KEEPALIVE, "ZMQ_TCP_KEEPALIVE", enabled ? 1 : 0)
    }

    /// Whether the last frame received has more frames after it (`ZMQ_RCVMORE`).
    public var receiveMore: Bool {
        get throws { try getInt32(ZMQ_RCVMORE, "ZMQ_RCVMORE") != 0 }
    }

    /// What the socket can do right now without blocking (`ZMQ_EVENTS`). Note that reading it also
    /// processes pending commands, as libzmq documents for edge-triggered `ZMQ_FD` use.
    public var events: ZMQPollEvents {
        get throws {
            let raw = try getInt32(ZMQ_EVENTS, "ZMQ_EVENTS")
            return ZMQPollEvents(rawValue: Int16(truncatingIfNeeded: raw))
        }
    }
}

// MARK: - Raw access

extension ZMQSocket {
    func setInt32(_ option: Int32, _ name: String, _ value: Int) throws {
        guard let value = Int32(exactly: value) else {
            throw ZMQError(errno: EINVAL, operation: "setsockopt \(name) \(value)")
        }
        try setOption(option, name, value)
    }

    private func getInt32(_ option: Int32, _ name: String) throws -> Int {
        Int(try getOption(option, name, as: Int32.self))
    }

    private func setOption<T: FixedWidthInteger>(_ option: Int32, _ name: String, _ value: T) throws {
        let label = "\(name) \(value)"
        try withUnsafeBytes(of: value) { try setBytes(option, label, $0) }
    }

    func setBytes(_ option: Int32, _ name: String, _ bytes: UnsafeRawBufferPointer) throws {
        let handle = try openHandle("setsockopt \(name)")
        // An empty buffer may have no base address; libzmq wants a valid pointer even for 0 bytes.
        var empty: UInt8 = 0
        let rc = withUnsafeMutableBytes(of: &empty) { placeholder in
            zmq_setsockopt(handle, option, bytes.baseAddress ?? UnsafeRawPointer(placeholder.baseAddress!), bytes.count)
        }
        guard rc == 0 else { throw ZMQError.last("setsockopt \(name)") }
    }

    private func getOption<T: FixedWidthInteger>(_ option: Int32, _ name: String, as: T.Type) throws -> T {
        let handle = try openHandle("getsockopt \(name)")
        var value = T.zero
        var length = MemoryLayout<T>.size
        guard zmq_getsockopt(handle, option, &value, &length) == 0 else {
            throw ZMQError.last("getsockopt \(name)")
        }
        return value
    }
}
