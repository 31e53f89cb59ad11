internal import CZeroMQ

/// One frame, owning a libzmq `zmq_msg_t`.
///
/// Why a class around a heap-allocated `zmq_msg_t`: libzmq keeps pointers *into* the 64-byte
/// structure (small messages store their bytes inline, large ones share a reference-counted buffer),
/// so a live `zmq_msg_t` must never be copied or moved by value — a Swift struct holding it inline
/// could be. The class allocates it once at a stable address, and its identity is what lets receive
/// loops reuse the same objects message after message (``ZMQMultipart``) without allocating.
///
/// The object is always initialised, so it can be received into or sent at any time:
/// - receiving into it replaces the previous content (libzmq releases the old buffer);
/// - sending it (``ZMQSocket/send(_:flags:)``) hands the buffer to libzmq without a
///   copy and leaves the message empty;
/// - a message made with ``init(borrowing:owner:)`` holds no buffer of its own: it lends libzmq the
///   caller's bytes, and ``ZMQMessageOwner`` hears when libzmq is done with them.
///
/// Not `Sendable`: it is mutated in place by sockets that live on one thread.
public final class ZMQMessage {
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// An empty message, ready to receive into.
    public init() {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer) // cannot fail
    }

    /// A message of `size` uninitialised bytes, to fill with ``withUnsafeMutableBytes(_:)`` and send.
    /// - Throws: ``ZMQError`` (`ENOMEM`) if libzmq cannot allocate the buffer.
    public init(size: Int) throws {
        pointer = .allocate(capacity: 1)
        guard size >= 0, zmq_msg_init_size(pointer, size) == 0 else {
            let error =
                size < 0
                ? ZMQError(errno: EINVAL, operation: "zmq_msg_init_size \(size)")
                : ZMQError.last("zmq_msg_init_size \(size)")
            zmq_msg_init(pointer) // keep the invariant for deinit
            throw error
        }
    }

    /// A message holding a copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) throws {
        try self.init(size: bytes.count)
        copyIn(bytes)
    }

    /// A message holding a copy of `bytes`.
    public convenience init(copying bytes: [UInt8]) throws {
        try self.init(size: bytes.count)
        bytes.withUnsafeBytes { copyIn($0) }
    }

    /// A message holding the UTF-8 bytes of `string` (no terminating NUL).
    public convenience init(copying string: String) throws {
        let utf8 = string.utf8
        try self.init(size: utf8.count)
        withUnsafeMutableBytes { $0.copyBytes(from: utf8) }
    }

    /// A frame over `bytes` that libzmq sends without copying; see ``reset(borrowing:owner:)``.
    public convenience init(borrowing bytes: UnsafeRawBufferPointer, owner: some ZMQMessageOwner) throws {
        self.init()
        try reset(borrowing: bytes, owner: owner)
    }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }

    /// The number of bytes in the frame.
    public var size: Int { zmq_msg_size(pointer) }

    /// Whether another frame of the same message followed this one when it was received.
    public var more: Bool { zmq_msg_more(pointer) != 0 }

    /// Calls `body` with the frame's bytes. The buffer is valid only inside `body`, and only until
    /// the message is received into or sent again.
    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: size))
    }

    /// Calls `body` with the frame's bytes for writing, typically to fill a message made with
    /// ``init(size:)``. Do not write to a received message: its buffer may be shared with other
    /// messages that libzmq copied by reference.
    public func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: zmq_msg_data(pointer), count: size))
    }

    /// A copy of the frame's bytes (allocates; for tests and slow paths).
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Replaces the content with `size` uninitialised bytes, reusing this object for the next send.
    public func reset(size: Int) throws {
        zmq_msg_close(pointer)
        guard size >= 0, zmq_msg_init_size(pointer, size) == 0 else {
            let error =
                size < 0
                ? ZMQError(errno: EINVAL, operation: "zmq_msg_init_size \(size)")
                : ZMQError.last("zmq_msg_init_size \(size)")
            zmq_msg_init(pointer)
            throw error
        }
    }

    /// Replaces the content with a frame over `bytes` that libzmq sends without copying
    /// (`zmq_msg_init_data`).
    ///
    /// `owner` is retained until libzmq is done with the bytes, then released once and told so
    /// (``ZMQMessageOwner/bytesReleased()``). Until then the bytes must stay valid and unchanged: the
    /// caller lends them, typically storage the owner holds. A send that returns `false` or throws
    /// leaves them lent to this message; resetting or deinitialising it ends the loan.
    /// - Throws: ``ZMQError`` (`ENOMEM`) if libzmq cannot allocate its reference count; then the
    ///   message is empty, `owner` is not told anything and its bytes are the caller's again.
    public func reset(borrowing bytes: UnsafeRawBufferPointer, owner: some ZMQMessageOwner) throws {
        zmq_msg_close(pointer) // ends a previous loan, if this message still held one
        let hint = Unmanaged.passRetained(owner as AnyObject).toOpaque()
        let data = bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
        guard zmq_msg_init_data(pointer, data, bytes.count, { releaseBorrowedBytes($0, $1) }, hint) == 0 else {
            let error = ZMQError.last("zmq_msg_init_data \(bytes.count)")
            Unmanaged<AnyObject>.fromOpaque(hint).release()
            zmq_msg_init(pointer)
            throw error
        }
    }

    /// Replaces the content with a copy of `bytes`.
    public func reset(copying bytes: UnsafeRawBufferPointer) throws {
        try reset(size: bytes.count)
        copyIn(bytes)
    }

    private func copyIn(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        zmq_msg_data(pointer).copyMemory(from: base, byteCount: bytes.count)
    }
}
