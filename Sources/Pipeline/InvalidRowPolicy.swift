/// What a pipeline does with a message holding NaN or infinity.
///
/// Non-finite values never reach the statistics either way; the choice is whether the finite rows
/// of such a message are still worth using.
public enum InvalidRowPolicy: String, Sendable, CaseIterable {
    /// Refuse the whole message (the default: a producer sending NaN is usually broken, and a
    /// trainer rejoining labels by message keeps whole messages or none).
    case rejectMessage = "reject_message"
    /// Keep the message's finite rows and drop the others, counting each dropped row.
    case dropRows = "drop_rows"
}
