import Pipeline
import Testing

@Suite("SequenceTracker: bounded, least recently seen evicted, no overflow")
struct SequenceTrackerTests {
    @Test("a full table evicts the least recently seen producer and counts it")
    func lruEviction() {
        var tracker = SequenceTracker(capacity: 2)
        #expect(tracker.observe(input: 0, producer: "a", seq: 0) == .inOrder)
        #expect(tracker.observe(input: 0, producer: "b", seq: 0) == .inOrder)
        #expect(tracker.observe(input: 0, producer: "a", seq: 1) == .inOrder) // a is now the most recent
        #expect(tracker.observe(input: 0, producer: "c", seq: 0) == .inOrder) // evicts b
        #expect(tracker.evictions == 1 && tracker.count == 2)
        #expect(tracker.observe(input: 0, producer: "a", seq: 5) == .gap(missed: 3))
        #expect(tracker.observe(input: 0, producer: "b", seq: 9) == .inOrder) // b starts over; evicts c
        #expect(tracker.evictions == 2 && tracker.count == 2)
    }

    @Test("the same name on two inputs is two producers")
    func perInput() {
        var tracker = SequenceTracker(capacity: 4)
        _ = tracker.observe(input: 0, producer: nil, seq: 7)
        #expect(tracker.observe(input: 1, producer: nil, seq: 0) == .inOrder)
        #expect(tracker.observe(input: 0, producer: nil, seq: 6) == .restart)
    }

    @Test("the shortcut for the previous message's producer still tells inputs and names apart")
    func previousProducerShortcut() {
        var tracker = SequenceTracker(capacity: 4)
        #expect(tracker.observe(input: 0, producer: "a", seq: 5) == .inOrder)
        #expect(tracker.observe(input: 0, producer: "a", seq: 6) == .inOrder)
        #expect(tracker.observe(input: 1, producer: "a", seq: 0) == .inOrder) // same name, another input: a new producer
        #expect(tracker.observe(input: 1, producer: "a", seq: 3) == .gap(missed: 2))
        #expect(tracker.observe(input: 0, producer: String("ab".dropLast()), seq: 7) == .inOrder) // equal bytes, another String
        #expect(tracker.observe(input: 0, producer: nil, seq: 9) == .inOrder)
        #expect(tracker.observe(input: 0, producer: nil, seq: 9) == .restart)
        #expect(tracker.observe(input: 0, producer: "a", seq: 6) == .restart)
        #expect(tracker.count == 3 && tracker.evictions == 0)
    }

    @Test("seq at both ends of UInt64 neither traps nor miscounts")
    func extremes() {
        var tracker = SequenceTracker(capacity: 1)
        _ = tracker.observe(input: 0, producer: "p", seq: 0)
        #expect(tracker.observe(input: 0, producer: "p", seq: .max) == .gap(missed: .max - 1))
        #expect(tracker.observe(input: 0, producer: "p", seq: 0) == .inOrder) // wrapped around: next after max
        #expect(Int.max.saturatingAdd(Int.max) == .max && Int.min.saturatingAdd(-1) == .min && 2.saturatingAdd(3) == 5)
    }

    @Test("a carried tracker keeps every position, or the most recently seen when smaller, and its evictions")
    func carried() {
        var tracker = SequenceTracker(capacity: 3)
        for producer in ["a", "b", "c"] { _ = tracker.observe(input: 0, producer: producer, seq: 10) }
        _ = tracker.observe(input: 0, producer: "a", seq: 11) // order now (oldest first): b, c, a
        var same = tracker.carried(capacity: 3)
        #expect(same.count == 3 && same.evictions == 0)
        #expect(same.observe(input: 0, producer: "b", seq: 11) == .inOrder)
        #expect(same.observe(input: 0, producer: "a", seq: 15) == .gap(missed: 3))
        var smaller = tracker.carried(capacity: 2) // b, the least recently seen, does not fit
        #expect(smaller.count == 2 && smaller.evictions == 1)
        #expect(smaller.observe(input: 0, producer: "c", seq: 9) == .restart)
        #expect(smaller.observe(input: 0, producer: "a", seq: 12) == .inOrder)
        #expect(smaller.observe(input: 0, producer: "b", seq: 0) == .inOrder) // starts over; evicts c
        #expect(smaller.evictions == 2)
    }
}
