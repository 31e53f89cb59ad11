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

    @Test("seq at both ends of UInt64 neither traps nor miscounts")
    func extremes() {
        var tracker = SequenceTracker(capacity: 1)
        _ = tracker.observe(input: 0, producer: "p", seq: 0)
        #expect(tracker.observe(input: 0, producer: "p", seq: .max) == .gap(missed: .max - 1))
        #expect(tracker.observe(input: 0, producer: "p", seq: 0) == .inOrder) // wrapped around: next after max
        #expect(Int.max.saturatingAdd(Int.max) == .max && Int.min.saturatingAdd(-1) == .min && 2.saturatingAdd(3) == 5)
    }
}
