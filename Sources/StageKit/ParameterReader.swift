/// Reads one mapping of a configuration (a stage, a pipeline, `batch:` …) and reports every problem
/// to a shared `ConfigDiagnostics` instead of stopping at the first.
///
/// Every getter records its key as *known*; `finish()` then reports each remaining key as unknown
/// with the nearest known key as a suggestion. A getter that finds a wrong type reports it and
/// returns the default, so validation goes on and collects the rest.
public final class ParameterReader {
    public let node: ConfigNode
    public let path: ConfigPath
    public let diagnostics: ConfigDiagnostics
    private var knownKeys: [String] = []

    /// - Parameters:
    ///   - node: should be a mapping; anything else is reported once and read as empty.
    ///   - path: where `node` sits, for messages.
    public init(node: ConfigNode, path: ConfigPath, diagnostics: ConfigDiagnostics) {
        self.node = node
        self.path = path
        self.diagnostics = diagnostics
        if node.mapEntries == nil && !node.isNull {
            diagnostics.error(at: node.location, path: path, "expected a mapping of keys to values, got \(node.value.typeName)")
        }
    }

    private var entries: [ConfigEntry] { node.mapEntries ?? [] }

    private func markKnown(_ key: String) {
        if !knownKeys.contains(key) { knownKeys.append(key) }
    }

    /// Marks keys as accepted without reading them (bookkeeping keys such as `convention`).
    public func accept(_ keys: String...) {
        keys.forEach(markKnown)
    }

    /// The raw node for `key`, marking it known.
    public func value(_ key: String) -> ConfigNode? {
        markKnown(key)
        return node.entry(key)?.value
    }

    public func contains(_ key: String) -> Bool {
        markKnown(key)
        return node.entry(key) != nil
    }

    /// True when `key` is present with an explicit `null` (`momentum: null`, `momentum: ~`),
    /// which is not the same as an absent key.
    public func isExplicitNull(_ key: String) -> Bool {
        value(key)?.isNull ?? false
    }

    /// Where `key`'s value is (or the mapping itself when the key is absent).
    public func location(of key: String) -> SourceLocation? {
        node.entry(key)?.value.location ?? node.entry(key)?.keyLocation ?? node.location
    }

    public func path(of key: String) -> ConfigPath { path.appending(key) }

    // MARK: reporting

    public func error(_ key: String?, _ message: String) {
        if let key {
            diagnostics.error(at: location(of: key), path: path(of: key), message)
        } else {
            diagnostics.error(at: node.location, path: path, message)
        }
    }

    public func warning(_ key: String?, _ message: String) {
        if let key {
            diagnostics.warning(at: location(of: key), path: path(of: key), message)
        } else {
            diagnostics.warning(at: node.location, path: path, message)
        }
    }

    /// Reports `"<rule>, got <value as written>"` at `key` unless `condition` holds.
    /// Returns `condition` so callers can fall back to a default.
    @discardableResult
    public func require(_ key: String, _ condition: Bool, _ rule: String) -> Bool {
        if !condition {
            error(key, "\(rule), got \(node.entry(key)?.value.quoted ?? "nothing")")
        }
        return condition
    }

    private func typeError(_ key: String, expected: String, got node: ConfigNode) {
        error(key, "expected \(expected), got \(node.value.typeName) \(node.quoted)")
    }

    // MARK: typed getters

    /// A number (integer or decimal); `nil` when absent or explicitly null.
    public func optionalDouble(_ key: String) -> Double? {
        guard let node = value(key), !node.isNull else { return nil }
        guard let number = node.number else {
            typeError(key, expected: "a number", got: node)
            return nil
        }
        if !number.isFinite {
            error(key, "must be a finite number, got \(node.quoted)")
            return nil
        }
        return number
    }

    public func double(_ key: String, default defaultValue: Double) -> Double {
        optionalDouble(key) ?? defaultValue
    }

    public func optionalInt(_ key: String) -> Int? {
        guard let node = value(key), !node.isNull else { return nil }
        switch node.value {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default:
            typeError(key, expected: "an integer", got: node)
            return nil
        }
    }

    public func int(_ key: String, default defaultValue: Int) -> Int {
        optionalInt(key) ?? defaultValue
    }

    public func optionalBool(_ key: String) -> Bool? {
        guard let node = value(key), !node.isNull else { return nil }
        guard case .bool(let b) = node.value else {
            typeError(key, expected: "true or false", got: node)
            return nil
        }
        return b
    }

    public func bool(_ key: String, default defaultValue: Bool) -> Bool {
        optionalBool(key) ?? defaultValue
    }

    public func optionalString(_ key: String) -> String? {
        guard let node = value(key), !node.isNull else { return nil }
        guard case .string(let s) = node.value else {
            typeError(key, expected: "a string", got: node)
            return nil
        }
        return s
    }

    /// One of a fixed set of words; anything else is reported with the allowed words.
    public func choice(_ key: String, among allowed: [String], default defaultValue: String) -> String {
        guard let text = optionalString(key) else { return defaultValue }
        guard allowed.contains(text) else {
            let hint = nearestKey(to: text, among: allowed).map { "; did you mean '\($0)'?" } ?? ""
            let written = node.entry(key)?.value.quoted ?? "\"\(text)\""
            error(key, "must be one of \(allowed.map { "'\($0)'" }.joined(separator: ", ")), got \(written)\(hint)")
            return defaultValue
        }
        return text
    }

    /// A list of numbers; `nil` when absent.
    public func numberList(_ key: String) -> [Double]? {
        guard let node = value(key), !node.isNull else { return nil }
        guard let items = node.listItems else {
            typeError(key, expected: "a list of numbers", got: node)
            return nil
        }
        var numbers: [Double] = []
        for (index, item) in items.enumerated() {
            guard let number = item.number, number.isFinite else {
                diagnostics.error(
                    at: item.location, path: path(of: key).appending(index: index),
                    "expected a finite number, got \(item.value.typeName) \(item.quoted)")
                return nil
            }
            numbers.append(number)
        }
        return numbers
    }

    /// A scalar applied to every feature, or a list with exactly one value per feature
    /// (how `gamma` and `beta` are given).
    public func perFeature(_ key: String, count: Int, default defaultValue: Double) -> [Double] {
        guard let node = value(key), !node.isNull else {
            return [Double](repeating: defaultValue, count: count)
        }
        if let items = node.listItems {
            // The length is checked before any item is read, so a huge list costs nothing more.
            guard items.count == count else {
                error(key, "expected one value per feature (\(count)), got a list of \(items.count)")
                return [Double](repeating: defaultValue, count: count)
            }
            return numberList(key) ?? [Double](repeating: defaultValue, count: count)
        }
        guard let scalar = optionalDouble(key) else { return [Double](repeating: defaultValue, count: count) }
        return [Double](repeating: scalar, count: count)
    }

    /// A nested mapping (`renorm_clipping: {rmax: 3}`), read with its own reader; `nil` when absent or null.
    public func nested(_ key: String) -> ParameterReader? {
        guard let child = value(key), !child.isNull else { return nil }
        guard child.mapEntries != nil else {
            typeError(key, expected: "a mapping", got: child)
            return nil
        }
        return ParameterReader(node: child, path: path(of: key), diagnostics: diagnostics)
    }

    /// Reports every key no getter asked for, with a did-you-mean from the keys that were asked for.
    /// - Parameter aliases: another vocabulary's names for known keys (`epsilon` → `eps` under
    ///   PyTorch's convention), suggested when spelling alone cannot find them.
    public func finish(hint: String? = nil, aliases: [String: String] = [:]) {
        for entry in entries where !knownKeys.contains(entry.key) {
            var message = "unknown key '\(ConfigNode.excerpt(entry.key))'"
            if let alias = aliases[entry.key] {
                message += "; did you mean '\(alias)'?"
            } else if let suggestion = nearestKey(to: entry.key, among: knownKeys) {
                message += "; did you mean '\(suggestion)'?"
            } else if !knownKeys.isEmpty {
                message += "; expected one of: \(knownKeys.joined(separator: ", "))"
            }
            if let hint { message += " (\(hint))" }
            diagnostics.error(at: entry.keyLocation ?? entry.value.location, path: path(of: entry.key), message)
        }
    }
}

// MARK: reads driven by declared parameters

extension ParameterReader {
    /// Marks every declared key as known, in declaration order, so `finish()` suggests among
    /// exactly the declared keys.
    public func declare(_ specs: [ParameterSpec]) {
        specs.forEach { markKnown($0.key) }
    }

    /// A number with the spec's default, checked against its rule: `"<rule>, got <value>"` and the
    /// default when it fails.
    public func number(_ spec: ParameterSpec) -> Double {
        let value = double(spec.key, default: spec.defaultNumber)
        return require(spec.key, spec.rule.admits(value), spec.rule.message) ? value : spec.defaultNumber
    }

    public func flag(_ spec: ParameterSpec) -> Bool {
        bool(spec.key, default: spec.defaultFlag)
    }

    /// An optional number checked against the spec's rule; `nil` when absent, null or out of range.
    public func optionalNumber(_ spec: ParameterSpec) -> Double? {
        guard let value = optionalDouble(spec.key), require(spec.key, spec.rule.admits(value), spec.rule.message) else {
            return nil
        }
        return value
    }
}
