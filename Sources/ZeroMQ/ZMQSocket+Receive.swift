internal import CZeroMQ

/// Receiving. Blocking receives return when a frame arrives, the receive timeout expires
/// (→ `false`/`nil`), or the context is shut down (→ throws `ETERM`). `EINTR` is retried, so a
/// signal does not end a receive loop: stop it with a poll timeout, a control message, or
/// ``ZMQContext/shutdown()``.
extension ZMQSocket {
    /// Receives one frame into `message`, replacing its content (`zmq_msg_recv`, no copy).
    /// - Returns: `false` if no frame was available (``ZMQFlags/dontWait``) or the receive timeout
    ///   expired. The previous content of `message` is released either way (libzmq empties it
    ///   before looking for a frame), so do not keep data in a message you receive into.
    /// - Throws: ``ZMQError`` — `ETERM` after the context was shut down, `ENOTSOCK` after close,
    ///   `EFSM` when the socket's pattern does not allow receiving now.
    @discardableResult
    public func receive(into message: ZMQMessage, flags: ZMQFlags = []) throws -> Bool {
        let handle = try openHandle("receive")
        while true {
            if zmq_msg_recv(message.pointer, handle, flags.rawValue) >= 0 { return true }
            let error = ZMQError.last("receive on \(type)")
            if error.isInterrupted { continue }
            if error.wouldBlock { return false }
            throw error
        }
    }

    /// Receives one frame as a new array (allocates; for tests and slow paths).
    /// - Returns: `nil` if no frame was available or the receive timeout expired.
    public func receive(flags: ZMQFlags = []) throws -> [UInt8]? {
        let message = ZMQMessage()
        guard try receive(into: message, flags: flags) else { return nil }
        return message.bytes
    }

    /// Receives all frames of the next message into `parts`, reusing its message objects.
    ///
    /// libzmq delivers multipart messages atomically, so ``ZMQFlags/dontWait`` can only find nothing
    /// at the first frame; the remaining frames are already queued and are read without waiting.
    /// - Returns: `false` (with `parts` emptied) if no message was available or the timeout expired.
    @discardableResult
    public func receiveMultipart(into parts: inout ZMQMultipart, flags: ZMQFlags = []) throws -> Bool {
        parts.removeAll()
        var frameFlags = flags
        repeat {
            let slot = parts.appendSlot()
            guard try receive(into: slot, flags: frameFlags) else {
                parts.removeLastSlot()
                if parts.isEmpty { return false }
                // A receive timeout mid-message cannot happen (frames arrive together); be explicit.
                throw ZMQError(errno: EAGAIN, operation: "receive frame \(parts.count) of a multipart message on \(type)")
            }
            frameFlags.remove(.dontWait)
        } while parts[parts.count - 1].more
        return true
    }
}
