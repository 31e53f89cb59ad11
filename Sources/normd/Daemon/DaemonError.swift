/// Why the daemon could not start or run.
enum DaemonError: Error, CustomStringConvertible {
    /// A socket of a pipeline could not be created, bound or connected.
    case socketSetup(pipeline: String, String)
    /// A broken invariant of normd itself.
    case internalState(String)

    var description: String {
        switch self {
        case .socketSetup(let pipeline, let message): "pipeline \(pipeline): \(message)"
        case .internalState(let message): "internal error: \(message)"
        }
    }
}
