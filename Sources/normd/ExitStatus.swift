import ArgumentParser

/// Exit statuses from sysexits(3), so scripts and supervisors can tell bad input from bad config.
enum ExitStatus {
    /// Bad command line (unknown pipeline, missing `--pipeline` when the file has several).
    static let usage = ExitCode(64)
    /// Bad input data: not a `.npy`, wrong shape or width, non-finite values, a damaged state file.
    static let dataError = ExitCode(65)
    /// An input file does not exist.
    static let noInput = ExitCode(66)
    /// A socket could not be bound or connected (address in use, no such interface…).
    static let unavailable = ExitCode(69)
    /// An internal failure: a stage of a configuration validated moments before cannot be created
    /// (a plugin's `create` failing at run time). The first chain of a load takes the instances
    /// validation created, so `run` and `apply` are not expected to see it.
    static let software = ExitCode(70)
    /// An output file (or the state file) could not be written.
    static let cannotCreate = ExitCode(73)
    /// Invalid configuration, or a state file computed for a different configuration.
    static let configError = ExitCode(78)
}

/// A failure the command reports as one message and an exit status.
struct CommandFailure: Error {
    var status: ExitCode
    var message: String

    init(_ status: ExitCode, _ message: String) {
        self.status = status
        self.message = message
    }
}
