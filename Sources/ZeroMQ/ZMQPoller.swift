internal import CZeroMQ

/// Waits until one of several sockets can receive or send (`zmq_poll`).
///
/// The `zmq_pollitem_t` array is allocated once and reused: ``poll(timeoutMilliseconds:)`` allocates
/// nothing, so it can sit in the hot loop. Like its sockets, a poller belongs to one thread.
///
/// A poll timeout is also the cheapest way to make a blocking loop check a stop flag now and then
/// without shutting the context down.
public final class ZMQPoller {
    private var sockets: [ZMQSocket] = []
    private var items: UnsafeMutablePointer<zmq_pollitem_t>
    private var capacity: Int

    /// An empty poller with room for `capacity` sockets before it reallocates.
    public init(capacity: Int = 4) {
        self.capacity = max(capacity, 1)
        items = .allocate(capacity: self.capacity)
    }

    deinit {
        items.deinitialize(count: sockets.count)
        items.deallocate()
    }

    /// The number of registered sockets.
    public var count: Int { sockets.count }

    /// Adds `socket`, watched for `events`, and returns its index for ``events(at:)``.
    /// The poller keeps the socket alive; a socket closed while registered makes ``poll(timeoutMilliseconds:)``
    /// throw `ENOTSOCK`.
    @discardableResult
    public func register(_ socket: ZMQSocket, for events: ZMQPollEvents) -> Int {
        if sockets.count == capacity {
            let larger = UnsafeMutablePointer<zmq_pollitem_t>.allocate(capacity: capacity * 2)
            larger.moveInitialize(from: items, count: sockets.count)
            items.deallocate()
            items = larger
            capacity *= 2
        }
        let index = sockets.count
        (items + index).initialize(
            to: zmq_pollitem_t(socket: socket.handle, fd: 0, events: events.rawValue, revents: 0)
        )
        sockets.append(socket)
        return index
    }

    /// Waits up to `timeoutMilliseconds` (`0` = just check, `-1` = forever) until at least one socket
    /// is ready.
    /// - Returns: the number of ready sockets; `0` on timeout or when a signal interrupted the wait
    ///   (`EINTR`), so that the caller's loop gets a chance to check for shutdown.
    /// - Throws: ``ZMQError`` — `ETERM` after the context was shut down, `ENOTSOCK` for a closed socket.
    @discardableResult
    public func poll(timeoutMilliseconds: Int) throws -> Int {
        for index in sockets.indices {
            // Refresh the handle so a socket closed since registration fails cleanly instead of
            // handing libzmq a freed pointer.
            guard let handle = sockets[index].handle else {
                throw ZMQError(errno: ENOTSOCK, operation: "poll: socket \(index) is closed")
            }
            items[index].socket = handle
            items[index].revents = 0
        }
        let ready = zmq_poll(items, Int32(sockets.count), timeoutMilliseconds)
        if ready >= 0 { return Int(ready) }
        let error = ZMQError.last("poll \(sockets.count) sockets")
        if error.isInterrupted {
            for index in sockets.indices { items[index].revents = 0 } // report "nothing ready"
            return 0
        }
        throw error
    }

    /// What the socket at `index` was ready for in the last ``poll(timeoutMilliseconds:)``.
    public func events(at index: Int) -> ZMQPollEvents {
        precondition(index >= 0 && index < sockets.count, "poll index \(index) out of range")
        return ZMQPollEvents(rawValue: items[index].revents)
    }

    /// Whether the socket at `index` had a message to receive in the last poll.
    public func isReadable(_ index: Int) -> Bool { events(at: index).contains(.pollIn) }

    /// Whether the socket at `index` could send in the last poll.
    public func isWritable(_ index: Int) -> Bool { events(at: index).contains(.pollOut) }
}
