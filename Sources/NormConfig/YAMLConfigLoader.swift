import Foundation
public import StageKit
import Yams

/// Turns YAML text into StageKit's syntax-free `ConfigNode` tree, keeping every value's 1-based
/// line and column so later validation can point at the exact spot.
///
/// Uses `Yams.compose(yaml:)` (Yams' bundled libyaml) rather than `Codable`: decoding errors only
/// carry a coding path, while composed nodes carry a `mark`. Scalars are resolved by YAML 1.1 core
/// tags except timestamps (a date is just a string here): `~`, `null` and an empty value become
/// `.null`, so `momentum: null` stays distinguishable from an absent `momentum`.
public enum YAMLConfigLoader {
    /// Reads and parses `path`. A missing or unreadable file, one larger than
    /// `ConfigLimits.maxFileBytes`, or a YAML syntax error is reported to `diagnostics` and gives `nil`.
    ///
    /// At most `maxFileBytes + 1` bytes are read, so neither a huge file nor an endless one
    /// (`/dev/zero`, a FIFO fed forever) can fill memory.
    public static func load(file path: String, diagnostics: ConfigDiagnostics) -> ConfigNode? {
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: ConfigLimits.maxFileBytes + 1) ?? Data()
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
            // No line to point at: the issue's "path" is the file itself, printed as `FILE: no such file`.
            diagnostics.append(ConfigIssue(at: nil, path: ConfigPath([.key(path)]), reason))
            return nil
        }
        guard data.count <= ConfigLimits.maxFileBytes else {
            diagnostics.append(tooLarge(file: path))
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            diagnostics.append(
                ConfigIssue(
                    at: SourceLocation(file: path, line: 1, column: 1), path: .root,
                    "the file is not valid UTF-8 text"))
            return nil
        }
        return parse(text, file: path, diagnostics: diagnostics)
    }

    /// Parses YAML `text`; `file` only names the source in locations. An empty document is `.null`.
    /// Text beyond the limits of `ConfigLimits` (bytes, nodes after alias expansion, nesting) is
    /// refused before it is composed.
    public static func parse(_ text: String, file: String, diagnostics: ConfigDiagnostics) -> ConfigNode? {
        guard text.utf8.count <= ConfigLimits.maxFileBytes else {
            diagnostics.append(tooLarge(file: file))
            return nil
        }
        if let issue = YAMLBudget.check(text, file: file) {
            diagnostics.append(issue)
            return nil
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, resolver)
        } catch let error as YamlError {
            diagnostics.append(issue(for: error, file: file))
            return nil
        } catch {
            diagnostics.append(
                ConfigIssue(
                    at: SourceLocation(file: file, line: 1, column: 1), path: .root,
                    "invalid YAML: \(error)"))
            return nil
        }
        guard let root else { return ConfigNode(.null, location: SourceLocation(file: file, line: 1, column: 1)) }
        return convert(root, file: file)
    }

    private static func tooLarge(file: String) -> ConfigIssue {
        ConfigIssue(
            at: SourceLocation(file: file, line: 1, column: 1), path: .root,
            "the file is larger than \(ConfigLimits.bytesText(ConfigLimits.maxFileBytes)), the limit for a configuration (\(ConfigLimits.reference))")
    }

    /// The default resolver without the timestamp rule.
    private static let resolver = Resolver.default.removing(.timestamp)

    private static func convert(_ node: Node, file: String) -> ConfigNode {
        let location = node.mark.map { SourceLocation(file: file, line: $0.line, column: $0.column) }
        switch node {
        case .scalar(let scalar):
            let value = resolve(node, scalar: scalar)
            // Numbers and booleans are quoted as written (`got -1`, not `got -1.0`); strings are
            // left to `ConfigNode.quoted`, which puts them in double quotes (`got "soon"`).
            let sourceText: String? = if case .string = value { nil } else { scalar.string }
            return ConfigNode(value, location: location, sourceText: sourceText)
        case .sequence(let sequence):
            return ConfigNode(.list(sequence.map { convert($0, file: file) }), location: location)
        case .mapping(let mapping):
            let entries = mapping.map { pair in
                ConfigEntry(
                    key: pair.key.string ?? keyText(pair.key),
                    keyLocation: pair.key.mark.map { SourceLocation(file: file, line: $0.line, column: $0.column) },
                    value: convert(pair.value, file: file))
            }
            return ConfigNode(.map(entries), location: location)
        case .alias:
            // compose() substitutes aliases with the anchored node; kept for exhaustiveness.
            return ConfigNode(.null, location: location)
        }
    }

    /// A complex key (`? [a, b]`, `? {a: 1}`) as text for messages, in YAML's flow style. Not Yams'
    /// `Node.any`: it force-unwraps every mapping key as a string and trapped on a mapping key inside
    /// a key (fuzz crasher `config/crashers/fuzz-sequence-key-holding-a-complex-key.yaml`). The depth
    /// is bounded by `YAMLBudget`, checked before anything is composed.
    private static func keyText(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): return scalar.string
        case .sequence(let sequence): return "[" + sequence.map(keyText).joined(separator: ", ") + "]"
        case .mapping(let mapping): return "{" + mapping.map { "\(keyText($0.key)): \(keyText($0.value))" }.joined(separator: ", ") + "}"
        case .alias(let alias): return "*\(alias.anchor.rawValue)"
        }
    }

    private static func resolve(_ node: Node, scalar: Node.Scalar) -> ConfigValue {
        switch Tag.Name(rawValue: node.tag.description) {
        case .null:
            return .null
        case .bool:
            if let value = node.bool { return .bool(value) }
        case .int:
            if let value = node.int { return .int(value) }
            if let value = node.float { return .double(value) }
        case .float:
            if let value = node.float { return .double(value) }
        default:
            break
        }
        return .string(scalar.string)
    }

    private static func issue(for error: YamlError, file: String) -> ConfigIssue {
        func located(_ mark: Mark, _ message: String) -> ConfigIssue {
            ConfigIssue(at: SourceLocation(file: file, line: mark.line, column: mark.column), path: .root, message)
        }
        func withContext(_ problem: String, _ context: YamlError.Context?) -> String {
            guard let context else { return "invalid YAML: \(problem)" }
            return "invalid YAML: \(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return located(mark, withContext(problem, context))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return located(context.mark, "invalid YAML: duplicate key \(keys) in one mapping")
        case .reader(let problem, _, _, _):
            return ConfigIssue(at: SourceLocation(file: file, line: 1, column: 1), path: .root, "cannot read YAML: \(problem)")
        default:
            return ConfigIssue(at: SourceLocation(file: file, line: 1, column: 1), path: .root, "invalid YAML: \(error)")
        }
    }
}
