/// Growable Float32 storage with a stable address, owned by a ``MessageDecoder``.
///
/// The JSON codec parses numbers into this buffer and hands out a raw pointer to it as the message
/// payload; an `Array` could not give a pointer that outlives a `withUnsafe…` closure. It keeps its
/// capacity between messages so a warm decoder does not allocate for rows.
final class FloatScratch: @unchecked Sendable {
    // @unchecked: only mutated through MessageDecoder.decode, which copies it first unless
    // isKnownUniquelyReferenced (copy-on-write), so no two owners ever write the same instance.
    private(set) var base: UnsafeMutablePointer<Float>
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deallocate()
    }

    func removeAll() {
        count = 0
    }

    func append(_ value: Float) {
        if count == capacity { grow() }
        base[count] = value
        count += 1
    }

    /// The values appended since the last `removeAll()`.
    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(UnsafeBufferPointer(start: base, count: count))
    }

    private func grow() {
        let larger = UnsafeMutablePointer<Float>.allocate(capacity: capacity * 2)
        larger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = larger
        capacity *= 2
    }
}
