/// Counts gaps in producers' `seq` numbers — on PUB/SUB the only evidence of lost messages.
///
/// Tracked per input and producer name, because two producers on one socket each count from 0.
///
/// **Bounded.** Producer names come from the network, so at most `capacity` producers are tracked;
/// a new one beyond that evicts the **least recently seen** (LRU) and counts an eviction. LRU rather
/// than insertion order because the producers that matter are the ones still sending: with
/// insertion order a flood of one-off names would evict a long-lived producer that sends every
/// millisecond, and its next gap would go unseen; with LRU the flood only evicts itself and idle
/// producers. An evicted producer that comes back starts over (its next `seq` is in order).
/// Memory is `capacity × (name ≤ max producer length + ~100 bytes)`; every operation is O(1):
/// a dictionary from key to slot, the slots linked from most to least recently seen.
public struct SequenceTracker: Sendable {
    private struct Key: Hashable {
        var input: Int
        var producer: String?
    }

    private struct Slot {
        var key: Key
        var seq: UInt64
        /// Neighbours in recency order (`newer` towards `head`); -1 = none.
        var newer: Int
        var older: Int
    }

    /// Producers tracked at most (≥ 1).
    public let capacity: Int
    /// Producers evicted to make room, ever.
    public private(set) var evictions = 0
    private var index: [Key: Int] = [:]
    private var slots: [Slot] = []
    /// The most and least recently seen slots; -1 when empty.
    private var head = -1
    private var tail = -1

    public static let defaultCapacity = 4096

    public init(capacity: Int = SequenceTracker.defaultCapacity) {
        precondition(capacity >= 1, "a sequence tracker needs room for one producer")
        self.capacity = capacity
    }

    public enum Observation: Equatable {
        case inOrder
        /// `missed` messages were skipped.
        case gap(missed: UInt64)
        /// The sequence went back (or repeated): the producer restarted.
        case restart
    }

    /// How many producers are tracked now (≤ `capacity`).
    public var count: Int { index.count }

    public mutating func observe(input: Int, producer: String?, seq: UInt64) -> Observation {
        let key = Key(input: input, producer: producer)
        let slot: Int
        if head >= 0, slots[head].key == key {
            // The producer of the previous message again (one producer per input is the common
            // case): comparing with the most recent slot's key — for the same name String that is a
            // comparison of its storage, no byte compare — skips hashing the name.
            slot = head
        } else if let found = index[key] {
            slot = found
        } else {
            insert(key, seq: seq)
            return .inOrder
        }
        let previous = slots[slot].seq
        slots[slot].seq = seq
        moveToFront(slot)
        if seq == previous &+ 1 { return .inOrder }
        // seq > previous, so seq − previous − 1 cannot overflow (at most 2^64 − 2).
        if seq > previous { return .gap(missed: seq - previous - 1) }
        return .restart
    }

    /// The same producers' positions in a tracker of `capacity` (a re-bound pipeline's successor,
    /// maybe with another `max_producers`): inserted least recently seen first, so the most recently
    /// seen survive a smaller capacity; those that do not fit count as evictions, and the evictions so
    /// far carry on (`producers_evicted` never goes down).
    public func carried(capacity: Int) -> SequenceTracker {
        var next = SequenceTracker(capacity: capacity)
        next.evictions = evictions
        var slot = tail
        while slot >= 0 {
            next.insert(slots[slot].key, seq: slots[slot].seq)
            slot = slots[slot].newer
        }
        return next
    }

    private mutating func insert(_ key: Key, seq: UInt64) {
        let slot: Int
        if index.count >= capacity {
            // Reuse the least recently seen producer's slot.
            slot = tail
            unlink(slot)
            index[slots[slot].key] = nil
            slots[slot] = Slot(key: key, seq: seq, newer: -1, older: -1)
            evictions += 1
        } else {
            slot = slots.count
            slots.append(Slot(key: key, seq: seq, newer: -1, older: -1))
        }
        index[key] = slot
        linkAtFront(slot)
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        linkAtFront(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (slots[slot].newer, slots[slot].older)
        if newer >= 0 { slots[newer].older = older } else { head = older }
        if older >= 0 { slots[older].newer = newer } else { tail = newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }

    private mutating func linkAtFront(_ slot: Int) {
        slots[slot].older = head
        slots[slot].newer = -1
        if head >= 0 { slots[head].newer = slot }
        head = slot
        if tail < 0 { tail = slot }
    }
}
