/// One problem (or warning) found in a configuration, located by file position and key path.
///
/// Printed as `file:line:col: pipelines[0].stages[2].renorm_clipping.rmax: must be > 0, got -1` —
/// the position first so editors and terminals make it clickable.
public struct ConfigIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var location: SourceLocation?
    public var path: ConfigPath
    public var message: String

    public init(_ severity: Severity = .error, at location: SourceLocation?, path: ConfigPath, _ message: String) {
        self.severity = severity
        self.location = location
        self.path = path
        self.message = message
    }

    public var description: String {
        let prefix = severity == .warning ? "warning: " : ""
        // A problem with the file as a whole (its syntax, a missing `pipelines`) has no key to name.
        let key = path.components.isEmpty ? "" : "\(path): "
        if let location {
            return "\(location): \(prefix)\(key)\(message)"
        }
        return "\(prefix)\(key)\(message)"
    }
}

/// Collects every problem before failing, so one run of `normd validate` lists them all.
public final class ConfigDiagnostics: @unchecked Sendable {
    public private(set) var issues: [ConfigIssue] = []
    /// Errors among `issues` (counted by `append`, the only writer), so marks cost nothing.
    private var errorCount = 0

    public init() {}

    public var errors: [ConfigIssue] { issues.filter { $0.severity == .error } }
    public var warnings: [ConfigIssue] { issues.filter { $0.severity == .warning } }
    public var hasErrors: Bool { errorCount > 0 }

    public func error(at location: SourceLocation?, path: ConfigPath, _ message: String) {
        append(ConfigIssue(.error, at: location, path: path, message))
    }

    public func warning(at location: SourceLocation?, path: ConfigPath, _ message: String) {
        append(ConfigIssue(.warning, at: location, path: path, message))
    }

    public func append(_ issue: ConfigIssue) {
        issues.append(issue)
        if issue.severity == .error { errorCount += 1 }
    }

    /// Where the error count stands now. Each reader of a part of the file (a stage, a pipeline,
    /// an endpoint) takes a mark before reading and asks it afterwards whether its part was valid:
    /// the other parts' errors, before and after, are not its business.
    public func mark() -> Mark { Mark(diagnostics: self, errors: errorCount) }

    /// See `mark()`.
    public struct Mark {
        fileprivate let diagnostics: ConfigDiagnostics
        fileprivate let errors: Int

        /// Whether no error was reported since the mark was taken (warnings do not count).
        public var noNewErrors: Bool { diagnostics.errorCount == errors }
    }
}

/// A configuration that failed validation: every error found, in source order.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}

/// The closest candidate by edit distance, for "unknown key 'momentun'; did you mean 'momentum'?".
public func nearestKey(to key: String, among candidates: [String]) -> String? {
    let limit = max(2, key.count / 3)
    // The distance is at least the difference in length: a candidate that cannot be within the
    // limit is skipped unscored, so a megabyte-long key costs nothing (scoring is O(n·m)).
    let scored = candidates.filter { abs($0.count - key.count) <= limit }
        .map { (candidate: $0, distance: editDistance(key.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
    return best.distance <= limit ? best.candidate : nil
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
