internal import CZeroMQ

/// Sending. Every method returns `true` when libzmq accepted the message and `false` when it would
/// have blocked: `EAGAIN` with ``ZMQFlags/dontWait``, an expired send timeout, or a full XPUB queue
/// with `ZMQ_XPUB_NODROP`. Other failures throw. `EINTR` (a signal during a blocking send) is retried,
/// so signals never lose a message; stop a blocked sender with ``ZMQContext/shutdown()`` (`ETERM`).
extension ZMQSocket {
    /// Sends a copy of `bytes` as one frame (`zmq_send`; libzmq copies, so the buffer may be reused
    /// as soon as this returns).
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, flags: ZMQFlags = []) throws -> Bool {
        let handle = try openHandle("send")
        while true {
            if zmq_send(handle, bytes.baseAddress, bytes.count, flags.rawValue) >= 0 { return true }
            let error = ZMQError.last("send \(bytes.count) bytes on \(type)")
            if error.isInterrupted { continue }
            if error.wouldBlock { return false }
            throw error
        }
    }

    /// Sends a copy of `bytes` as one frame; `more` marks that another frame of the message follows.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, more: Bool) throws -> Bool {
        try send(bytes, flags: more ? .sendMore : [])
    }

    /// Sends a copy of `bytes` as one frame.
    @discardableResult
    public func send(_ bytes: [UInt8], flags: ZMQFlags = []) throws -> Bool {
        try bytes.withUnsafeBytes { try send($0, flags: flags) }
    }

    /// Sends a copy of `bytes` as one frame; `more` marks that another frame follows.
    @discardableResult
    public func send(_ bytes: [UInt8], more: Bool) throws -> Bool {
        try send(bytes, flags: more ? .sendMore : [])
    }

    /// Sends the UTF-8 bytes of `string` (no NUL) as one frame.
    @discardableResult
    public func send(_ string: String, flags: ZMQFlags = []) throws -> Bool {
        var string = string
        return try string.withUTF8 { try send(UnsafeRawBufferPointer($0), flags: flags) }
    }

    /// Sends the UTF-8 bytes of `string` as one frame; `more` marks that another frame follows.
    @discardableResult
    public func send(_ string: String, more: Bool) throws -> Bool {
        try send(string, flags: more ? .sendMore : [])
    }

    /// Sends `message` without copying (`zmq_msg_send`): its buffer moves to libzmq and `message` is
    /// left empty, ready to be reused. On `false` or a throw the message keeps its content.
    @discardableResult
    public func send(_ message: ZMQMessage, flags: ZMQFlags = []) throws -> Bool {
        let handle = try openHandle("send")
        while true {
            if zmq_msg_send(message.pointer, handle, flags.rawValue) >= 0 { return true }
            let error = ZMQError.last("send message of \(message.size) bytes on \(type)")
            if error.isInterrupted { continue }
            if error.wouldBlock { return false }
            throw error
        }
    }

    /// Sends `message` without copying; `more` marks that another frame follows.
    @discardableResult
    public func send(_ message: ZMQMessage, more: Bool) throws -> Bool {
        try send(message, flags: more ? .sendMore : [])
    }

    /// Sends copies of `frames` as one multipart message.
    ///
    /// ``ZMQFlags/dontWait`` applies to the first frame only: libzmq admits a multipart message as a
    /// whole (the high-water mark counts whole messages), so once the first frame is accepted the
    /// rest are sent blocking and cannot wait on the peer. `false` therefore means nothing was sent.
    @discardableResult
    public func sendMultipart(_ frames: [[UInt8]], flags: ZMQFlags = []) throws -> Bool {
        try sendFrames(count: frames.count, flags: flags) { index, frameFlags in
            try send(frames[index], flags: frameFlags)
        }
    }

    /// Sends `frames` as one multipart message without copying; each sent frame is left empty.
    /// ``ZMQFlags/dontWait`` applies to the first frame only, as for copied frames.
    @discardableResult
    public func sendMultipart(_ frames: ZMQMultipart, flags: ZMQFlags = []) throws -> Bool {
        try sendFrames(count: frames.count, flags: flags) { index, frameFlags in
            try send(frames[index], flags: frameFlags)
        }
    }

    /// Sends `frames` as one multipart message without copying; each sent frame is left empty.
    @discardableResult
    public func sendMultipart(_ frames: [ZMQMessage], flags: ZMQFlags = []) throws -> Bool {
        try sendFrames(count: frames.count, flags: flags) { index, frameFlags in
            try send(frames[index], flags: frameFlags)
        }
    }

    private func sendFrames(
        count: Int, flags: ZMQFlags, _ sendFrame: (Int, ZMQFlags) throws -> Bool
    ) throws -> Bool {
        guard count > 0 else {
            throw ZMQError(errno: EINVAL, operation: "send multipart message with no frames on \(type)")
        }
        // `.sendMore` from the caller continues the message after the last frame of `frames`.
        for index in 0..<count {
            var frameFlags = index == 0 ? flags : flags.subtracting(.dontWait)
            if index < count - 1 { frameFlags.insert(.sendMore) }
            if try !sendFrame(index, frameFlags) {
                // Only the first frame can be refused (see above); a later refusal would be a send
                // timeout mid-message, which libzmq cannot undo either — report it as an error.
                if index == 0 { return false }
                throw ZMQError(errno: EAGAIN, operation: "send frame \(index) of \(count) on \(type)")
            }
        }
        return true
    }
}
