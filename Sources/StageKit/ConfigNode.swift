/// Where a configuration value came from, 1-based like compilers and editors print it.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A configuration tree independent of its syntax.
///
/// The YAML loader (NormConfig) builds it from Yams' composed nodes with their marks; the plugin
/// ABI builds it from JSON. Stages read their parameters from it through `ParameterReader`, so the
/// core never sees YAML and every error can still point at a file, line and column.
public indirect enum ConfigValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigNode])
    case map([ConfigEntry])

    /// A short name of the value's type for "expected a number, got a string" messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .list: "a list"
        case .map: "a mapping"
        }
    }
}

/// One `key: value` pair of a mapping, in source order.
public struct ConfigEntry: Sendable {
    public var key: String
    public var keyLocation: SourceLocation?
    public var value: ConfigNode

    public init(key: String, keyLocation: SourceLocation? = nil, value: ConfigNode) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}

/// A configuration value with its source location and, for scalars, the text as written
/// (so messages quote `got -1`, not `got -1.0`).
public struct ConfigNode: Sendable {
    public var value: ConfigValue
    public var location: SourceLocation?
    public var sourceText: String?

    public init(_ value: ConfigValue, location: SourceLocation? = nil, sourceText: String? = nil) {
        self.value = value
        self.location = location
        self.sourceText = sourceText
    }

    /// The value as written, for quoting in messages; cut after `quotedLimit` bytes as
    /// `"abc…(100000 bytes)`, so a megabyte-long value cannot make a megabyte-long message.
    public var quoted: String { Self.excerpt(fullQuote) }

    /// `text` itself up to `quotedLimit` bytes, else its first whole characters within that many
    /// bytes and `…(N bytes)`: how any text from the file (a key, a kind, a name) goes into a message.
    public static func excerpt(_ text: String, limit: Int = quotedLimit) -> String {
        let bytes = text.utf8.count
        guard bytes > limit else { return text }
        var prefix = ""
        for character in text { // whole characters only
            if prefix.utf8.count + character.utf8.count > limit { break }
            prefix.append(character)
        }
        return "\(prefix)…(\(bytes) bytes)"
    }

    /// Bytes of a value quoted whole in a message.
    public static let quotedLimit = 128

    private var fullQuote: String {
        if let sourceText { return sourceText }
        switch value {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"\(s)\""
        case .list(let items): return "[" + items.map(\.fullQuote).joined(separator: ", ") + "]"
        case .map(let entries): return "{" + entries.map { "\($0.key): \($0.value.fullQuote)" }.joined(separator: ", ") + "}"
        }
    }

    /// The numeric value of an integer or floating-point scalar.
    public var number: Double? {
        switch value {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    public var mapEntries: [ConfigEntry]? {
        if case .map(let entries) = value { return entries }
        return nil
    }

    public var listItems: [ConfigNode]? {
        if case .list(let items) = value { return items }
        return nil
    }

    public var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// The entry for `key` in a mapping (the first, if a key repeats).
    public func entry(_ key: String) -> ConfigEntry? {
        mapEntries?.first { $0.key == key }
    }

    /// Renders the tree as JSON (for run-time plugins, which receive their stage config as JSON).
    public var json: String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(d) : "null"
        case .string(let s): return jsonQuote(s)
        case .list(let items): return "[" + items.map(\.json).joined(separator: ",") + "]"
        case .map(let entries): return "{" + entries.map { jsonQuote($0.key) + ":" + $0.value.json }.joined(separator: ",") + "}"
        }
    }
}

func jsonQuote(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case let c where c.value < 0x20:
            out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
