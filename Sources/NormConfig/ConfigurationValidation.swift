public import StageKit

/// The outcome of validating a configuration: the configuration when there was no error, and every
/// issue found (errors and warnings, in the order they were found).
public struct ConfigurationValidation: Sendable {
    public var configuration: NormdConfiguration?
    public var issues: [ConfigIssue]

    public var errors: [ConfigIssue] { issues.filter { $0.severity == .error } }
    public var warnings: [ConfigIssue] { issues.filter { $0.severity == .warning } }
    public var isValid: Bool { configuration != nil }
}
