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
        try receiveFrame(into: message.pointer, handle: try openHandle("receive"), flags: flags)
    }

    /// `zmq_msg_recv` into `frame`, retrying `EINTR`; `false` on `EAGAIN`. The error value — whose
    /// text allocates — is made only for a real failure: a non-blocking drain ends with an `EAGAIN`
    /// every time it empties the queue, which is per message when messages trickle in.
    private func receiveFrame(
        into frame: UnsafeMutablePointer<zmq_msg_t>, handle: UnsafeMutableRawPointer, flags: ZMQFlags
    ) throws -> Bool {
        while true {
            if zmq_msg_recv(frame, handle, flags.rawValue) >= 0 { return true }
            let code = zmq_errno()
            if code == EINTR { continue }
            if code == EAGAIN { return false }
            throw ZMQError(errno: code, operation: "receive on \(type)")
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
        let handle = try openHandle("receive")
        var frameFlags = flags
        while true {
            let frame = parts.appendSlotPointer()
            guard try receiveFrame(into: frame, handle: handle, flags: frameFlags) else {
                parts.removeLastSlot()
                if parts.isEmpty { return false }
                // A receive timeout mid-message cannot happen (frames arrive together); be explicit.
                throw ZMQError(errno: EAGAIN, operation: "receive frame \(parts.count) of a multipart message on \(type)")
            }
            if zmq_msg_more(frame) == 0 { return true }
            frameFlags.remove(.dontWait)
        }
    }
}
