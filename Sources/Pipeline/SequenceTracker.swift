/// Counts gaps in producers' `seq` numbers — on PUB/SUB the only evidence of lost messages.
///
/// Tracked per input and producer name, because two producers on one socket each count from 0.
public struct SequenceTracker {
    private struct Key: Hashable {
        var input: Int
        var producer: String?
    }

    private var last: [Key: UInt64] = [:]

    public init() {}

    public enum Observation: Equatable {
        case inOrder
        /// `missed` messages were skipped.
        case gap(missed: UInt64)
        /// The sequence went back (or repeated): the producer restarted.
        case restart
    }

    public mutating func observe(input: Int, producer: String?, seq: UInt64) -> Observation {
        let key = Key(input: input, producer: producer)
        defer { last[key] = seq }
        guard let previous = last[key] else { return .inOrder }
        if seq == previous &+ 1 { return .inOrder }
        if seq > previous { return .gap(missed: seq - previous - 1) }
        return .restart
    }
}
