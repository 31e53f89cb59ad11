internal import CZeroMQ

/// Keeps the bytes of a frame that libzmq sends without copying alive, and learns when libzmq is
/// done with them (``ZMQMessage/init(borrowing:owner:)``).
///
/// Why: `zmq_send` copies every frame into a buffer it mallocs; for a large payload that copy (a
/// `memmove` of the whole frame) is avoidable when the bytes can stay put until libzmq has written
/// them out. `zmq_msg_init_data` lends libzmq the bytes and names a free function it calls when the
/// last reference to them goes; the owner is what that function releases.
///
/// ``bytesReleased()`` is called exactly once per successfully made borrowing message, when libzmq
/// no longer needs the bytes — whichever way the frame ends:
/// - sent: after its last peer's copy was written out (tcp, ipc) or the receiver closed it (inproc);
/// - dropped by libzmq: PUB with no matching subscriber, or a subscriber's full queue;
/// - never sent: the send was refused and the message was then reset or deinitialised;
/// - queued when its socket closed with linger 0, or its context was terminated.
///
/// It may run on any thread: a libzmq I/O thread, an inproc receiver's thread, or synchronously on
/// the sending thread inside `zmq_msg_send` or `zmq_msg_close`. So it must be quick, must not block,
/// and must not use a socket; hence `Sendable`.
public protocol ZMQMessageOwner: AnyObject, Sendable {
    /// libzmq is done with the borrowed bytes: they may be reused or freed.
    func bytesReleased()
}

/// The `zmq_free_fn` of every borrowing frame: `hint` is the owner, retained once by
/// ``ZMQMessage/reset(borrowing:owner:)``; this consumes that retain and tells the owner.
func releaseBorrowedBytes(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    let owner = Unmanaged<AnyObject>.fromOpaque(hint).takeRetainedValue()
    // Always true: only `ZMQMessageOwner`s are passed as hints. No trap on a libzmq thread if not.
    (owner as? any ZMQMessageOwner)?.bytesReleased()
}
