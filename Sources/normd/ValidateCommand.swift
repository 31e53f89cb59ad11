import ArgumentParser
import NormConfig
import StageKit

/// `normd validate --config FILE`: lists every problem of a configuration at once.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a configuration file and list every problem (exit 0 valid, 78 invalid)."
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        _ = logging.makeLogger(label: "normd.validate")
        let result = ConfiguredStages.resolve(file: config).validation
        for issue in result.issues { StandardError.print(issue.description) }
        guard let configuration = result.configuration else {
            let count = result.errors.count
            StandardError.print("\(config): \(count) error\(count == 1 ? "" : "s")")
            throw ExitStatus.configError
        }
        let stages = configuration.pipelines.reduce(0) { $0 + $1.stageCount }
        let pipelines = configuration.pipelines.count
        let warnings = result.warnings.count
        let warningText = warnings == 0 ? "" : " (\(warnings) warning\(warnings == 1 ? "" : "s"))"
        print("\(config): \(pipelines) pipeline\(pipelines == 1 ? "" : "s"), \(stages) stage\(stages == 1 ? "" : "s"): ok\(warningText)")
    }
}
