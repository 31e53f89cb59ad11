/// Why the checkpoint directory could not be used. Every case names the directory or file.
public enum CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The directory does not exist and could not be created, or is not a directory.
    case unusableDirectory(path: String, reason: String)
    /// Generations exist but none of them can be read: refusing beats silently starting fresh.
    case noValidGeneration(directory: String, failures: [StateFileError])
    /// A generation could not be written.
    case writeFailed(StateFileError)
    /// The directory exists but cannot be listed (permissions, I/O error).
    case unlistable(path: String, reason: String)
    /// The newest generation is `CheckpointDirectory.maxGeneration`; no higher number is written.
    case generationsExhausted(path: String)
    /// A generation newer than every readable one was written by a newer normd (a downgrade).
    /// Falling back past it would roll the statistics back silently and bury the newer file.
    case writtenByNewerNormd(StateFileError)

    public var description: String {
        switch self {
        case .unusableDirectory(let path, let reason):
            "\(path): cannot use as the checkpoint directory: \(reason)"
        case .noValidGeneration(let directory, let failures):
            "\(directory): no checkpoint generation can be read (\(failures.count) tried): "
                + failures.map(\.description).joined(separator: "; ")
        case .writeFailed(let error):
            "cannot write a checkpoint: \(error)"
        case .unlistable(let path, let reason):
            "\(path): cannot list the checkpoint directory: \(reason)"
        case .writtenByNewerNormd(let error):
            "\(error); older generations are not used in its place (that would roll the statistics back)"
        case .generationsExhausted(let path):
            "\(path): generation numbers are exhausted (\(CheckpointDirectory.maxGeneration) is the highest normd writes); "
                + "move the generations elsewhere and rename the newest one to \(CheckpointDirectory.fileName(generation: 1)) to continue from it"
        }
    }
}
