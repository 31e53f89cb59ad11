import ArgumentParser

/// `normd`: normalizes streams of Float32 feature vectors for ML trainers.
@main
struct NormdCommand: AsyncParsableCommand {
    /// The release: `normd --version`, the `normd running` log line, and the Python client's
    /// `normd.__version__` (Clients/python/normd/_version.py; a test keeps the two equal).
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "normd",
        abstract: "Normalize streams of Float32 feature vectors for ML trainers (min-max, batch norm, batch renorm).",
        discussion: """
            Exit codes follow sysexits(3): 0 ok, 64 usage, 65 bad input data or damaged state file, \
            66 input file missing, 69 a socket cannot be bound or connected, 73 cannot write output, 78 invalid configuration or a state file \
            that does not match the configuration.
            """,
        version: version,
        subcommands: [
            RunCommand.self, ValidateCommand.self, ApplyCommand.self, StateCommand.self, StagesCommand.self, KeygenCommand.self, TopCommand.self,
        ]
    )
}
