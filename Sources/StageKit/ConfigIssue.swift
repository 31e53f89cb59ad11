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

    public init() {}

    public var errors: [ConfigIssue] { issues.filter { $0.severity == .error } }
    public var warnings: [ConfigIssue] { issues.filter { $0.severity == .warning } }
    public var hasErrors: Bool { issues.contains { $0.severity == .error } }

    public func error(at location: SourceLocation?, path: ConfigPath, _ message: String) {
        issues.append(ConfigIssue(.error, at: location, path: path, message))
    }

    public func warning(at location: SourceLocation?, path: ConfigPath, _ message: String) {
        issues.append(ConfigIssue(.warning, at: location, path: path, message))
    }

    public func append(_ issue: ConfigIssue) {
        issues.append(issue)
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
