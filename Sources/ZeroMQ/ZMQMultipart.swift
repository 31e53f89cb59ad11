internal import CZeroMQ

/// The frames of one multipart message, in a container that is reused from message to message.
///
/// ``ZMQSocket/receiveMultipart(into:flags:)`` fills the first frames of the container and sets
/// ``count``; the ``ZMQMessage`` objects beyond `count` are kept for the next, longer message. A warm
/// receive loop therefore allocates nothing per message on the Swift side: the same objects (and the
/// same array storage) are refilled each time.
///
/// The frames are references: after the next receive into the same container they hold the *next*
/// message. Copy bytes out (or keep your own ``ZMQMessage``) if you need them longer. A copy of the
/// container shares its frames, so do not receive into a container while a copy is still being read.
public struct ZMQMultipart: RandomAccessCollection {
    private var storage: [ZMQMessage] = []
    /// The number of frames of the current message.
    public private(set) var count = 0

    /// An empty container.
    public init() {}

    /// An empty container with `capacity` frames already allocated, so even the first messages of up
    /// to that many frames do not allocate.
    public init(reservingCapacity capacity: Int) {
        storage.reserveCapacity(capacity)
        for _ in 0..<capacity { storage.append(ZMQMessage()) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> ZMQMessage {
        precondition(position >= 0 && position < count, "frame index \(position) out of range 0..<\(count)")
        return storage[position]
    }

    /// Calls `body` with every frame's bytes, in order, and their total size: the multipart view of
    /// ``ZMQMessage/withUnsafeBytes(_:)``, with the same rule. The buffers are valid only inside
    /// `body` (the next receive into this container replaces them), so no pointer leaves a closure.
    ///
    /// The list of buffers lives on the stack for the call (`withUnsafeTemporaryAllocation`): no
    /// array to empty before and after, which cost two generic `replaceSubrange` calls per message.
    /// `@inlinable`, over the non-generic ``collectFrameBuffers(into:)``, so that a caller in another
    /// module gets it specialized for its `R` and `E`: unspecialized, every message paid a generic
    /// `Array.withUnsafeBufferPointer` and retains of the frame objects (~2 % of normd's CPU samples
    /// at 128 features × 1-row messages).
    @inlinable
    public func withUnsafeFrameBuffers<R, E: Error>(
        _ body: (_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>, _ totalBytes: Int) throws(E) -> R
    ) throws(E) -> R {
        try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: count) { views throws(E) in
            let total = collectFrameBuffers(into: views)
            return try body(UnsafeBufferPointer(views), total)
        }
    }

    /// Initializes the first ``count`` elements of `views` with the frames' buffers and returns their
    /// total size. Reads each frame's `zmq_msg_t` through the array's own references (no retain per frame).
    @usableFromInline
    func collectFrameBuffers(into views: UnsafeMutableBufferPointer<UnsafeRawBufferPointer>) -> Int {
        precondition(views.count >= count, "room for \(count) frames needed, \(views.count) given")
        var total = 0
        storage.withUnsafeBufferPointer { messages in
            for index in 0..<count {
                let frame = messages[index].pointer
                let size = zmq_msg_size(frame)
                views.initializeElement(at: index, to: UnsafeRawBufferPointer(start: zmq_msg_data(frame), count: size))
                total += size
            }
        }
        return total
    }

    /// Forgets the frames (``count`` becomes 0) but keeps the message objects for reuse.
    public mutating func removeAll() {
        count = 0
    }

    /// Appends a frame slot and returns it: a reused object when one is spare, else a new one.
    /// Receiving into the returned message replaces whatever it held.
    @discardableResult
    public mutating func appendSlot() -> ZMQMessage {
        if count == storage.count {
            storage.append(ZMQMessage())
        }
        count += 1
        return storage[count - 1]
    }

    /// ``appendSlot()`` for the receive loop: the slot's `zmq_msg_t`, without handing out (and so
    /// retaining and releasing) the message object; the container keeps it alive.
    mutating func appendSlotPointer() -> UnsafeMutablePointer<zmq_msg_t> {
        if count == storage.count {
            storage.append(ZMQMessage())
        }
        count += 1
        let last = count - 1
        return storage.withUnsafeBufferPointer { $0[last].pointer }
    }

    /// Gives back the slot taken by the last ``appendSlot()`` (after a receive into it failed).
    mutating func removeLastSlot() {
        precondition(count > 0)
        count -= 1
    }

    /// Appends a copy of `bytes` as a new frame, reusing a spare message object if there is one.
    public mutating func append(copying bytes: UnsafeRawBufferPointer) throws {
        try appendSlot().reset(copying: bytes)
    }

    /// Appends a copy of `bytes` as a new frame.
    public mutating func append(copying bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append(copying: $0) }
    }

    /// Appends the UTF-8 bytes of `string` as a new frame.
    public mutating func append(copying string: String) throws {
        var string = string
        try string.withUTF8 { try append(copying: UnsafeRawBufferPointer($0)) }
    }
}
