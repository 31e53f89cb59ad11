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
