import ArgumentParser
import Logging

/// `--log-level`, shared by every command; logs go to stderr as logfmt lines (`LogfmtHandler`).
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (default: info for run, warning otherwise).")
    var logLevel: String?

    func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(logLevel)'")
        }
    }

    /// Installs the stderr handler (once per process) and returns a logger for `label`.
    func makeLogger(label: String, defaultLevel: Logger.Level = .warning) -> Logger {
        let level = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        LoggingSystem.bootstrap { label in LogfmtHandler(label: label, level: level) }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
