/// One configured parameter of a stage, as a state file records it (`params`): enough for a reader
/// to rebuild the framework layer (`gamma`, `epsilon`, `momentum`, `feature_range`, …) without the
/// YAML file. JSON's value kinds, minus objects: a stage flattens nested settings into its own keys
/// (`renorm_clipping_rmax`), so every reader sees one level.
public enum StageParameter: Sendable, Equatable, Codable {
    case number(Double)
    case numbers([Double])
    case flag(Bool)
    case text(String)
    /// Explicitly "none" (PyTorch `momentum: None`, a clipping bound that is not set).
    case none

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .none
        } else if let value = try? container.decode(Bool.self) {
            self = .flag(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode([Double].self) {
            self = .numbers(value)
        } else {
            self = .text(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .numbers(let values): try container.encode(values)
        case .flag(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        case .none: try container.encodeNil()
        }
    }

    /// `.number`, or `.none` for a missing optional value.
    public static func optional(_ value: Double?) -> StageParameter {
        value.map(StageParameter.number) ?? .none
    }
}

/// One declared parameter of a stage kind: the single place its key, type, default, rule,
/// convention and documentation are written. A stage's factory reads through its specs
/// (`ParameterReader.number(_:)`, `declare(_:)`), so the reads, the unknown-key suggestions,
/// `normd stages` and the test that ties `Config/reference.yaml` to the code all see the same list.
public struct ParameterSpec: Sendable, Equatable {
    public enum ValueType: String, Sendable, Equatable, Codable {
        case number
        case integer
        case flag = "bool"
        case word
        /// A number applied to every feature, or a list with one value per feature.
        case perFeature = "number or list per feature"
        case numberList = "list of numbers"
        case mapping
    }

    /// The range a number must lie in; each rule's message is the one users have always seen.
    public enum Rule: String, Sendable, Equatable, Codable {
        case any = ""
        case positive = "> 0"
        case nonNegative = ">= 0"
        case unitInterval = "in [0, 1]"

        public func admits(_ value: Double) -> Bool {
            switch self {
            case .any: true
            case .positive: value > 0
            case .nonNegative: value >= 0
            case .unitInterval: (0...1).contains(value)
            }
        }

        /// `"must be > 0"`.
        public var message: String { "must be \(rawValue)" }
    }

    public var key: String
    public var type: ValueType
    /// What an absent key means (`.none`: nothing is applied).
    public var defaultValue: StageParameter
    public var rule: Rule
    /// The conventions the key belongs to; empty: every convention of the stage.
    public var conventions: [String]
    public var doc: String
    /// The keys of a nested mapping (`renorm_clipping: {rmax, rmin, dmax}`).
    public var children: [ParameterSpec]

    public init(
        _ key: String, _ type: ValueType, default defaultValue: StageParameter = .none, rule: Rule = .any,
        conventions: [String] = [], doc: String, children: [ParameterSpec] = []
    ) {
        self.key = key
        self.type = type
        self.defaultValue = defaultValue
        self.rule = rule
        self.conventions = conventions
        self.doc = doc
        self.children = children
    }

    /// The default as a number (0 when the default is not one: a programmer error caught by tests).
    public var defaultNumber: Double {
        if case .number(let value) = defaultValue { return value }
        return 0
    }

    public var defaultFlag: Bool {
        if case .flag(let value) = defaultValue { return value }
        return false
    }

    public var defaultText: String {
        if case .text(let value) = defaultValue { return value }
        return ""
    }

    public func applies(to convention: String) -> Bool {
        conventions.isEmpty || conventions.contains(convention)
    }
}

extension Array where Element == ParameterSpec {
    /// The keys that apply under `convention`, in declaration order (the order of the reads, so the
    /// "expected one of" list of an unknown key reads the same as before the table existed).
    public func applying(to convention: String) -> [ParameterSpec] {
        filter { $0.applies(to: convention) }
    }

    public func spec(_ key: String) -> ParameterSpec? {
        first { $0.key == key }
    }
}

/// As `normd stages --format json` lists it: `range` and `conventions` only when they restrict,
/// `default` `null` when nothing is applied.
extension ParameterSpec: Encodable {
    private enum CodingKeys: String, CodingKey { case key, type, `default`, range, conventions, doc, children }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(type, forKey: .type)
        try container.encode(defaultValue, forKey: .default)
        if rule != .any { try container.encode(rule.rawValue, forKey: .range) }
        if !conventions.isEmpty { try container.encode(conventions, forKey: .conventions) }
        try container.encode(doc, forKey: .doc)
        if !children.isEmpty { try container.encode(children, forKey: .children) }
    }
}

extension StageParameter {
    /// As written in YAML: `0.99`, `1e-05`, `[0, 1]`, `true`, `keras`, `none`.
    public var yamlText: String {
        func text(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        }
        switch self {
        case .number(let value): return text(value)
        case .numbers(let values): return "[" + values.map(text).joined(separator: ", ") + "]"
        case .flag(let value): return String(value)
        case .text(let value): return value
        case .none: return "none"
        }
    }
}
