import StageKit

/// A stage mapping laid out as block YAML in `cfg.yaml`, so nodes carry realistic source locations:
/// ```
/// 1 stages:
/// 2   - type: batch_renorm        key at column 5, value after "key: "
/// 3     renorm_clipping:          a nested mapping starts on the next line, indented by 2
/// 4       rmax: -1
/// ```
/// Scalars are written as YAML text (`"0.1"`, `"true"`, `"null"`, `"[1, 0]"`, `"torch"`) and keep
/// that text for messages.
indirect enum YAMLSketch: ExpressibleByStringLiteral {
    case scalar(String)
    case map([(String, YAMLSketch)])

    init(stringLiteral text: String) { self = .scalar(text) }

    static let file = "cfg.yaml"

    /// The `stages:` list holding one stage whose first entry is on line 2.
    static func stages(_ entries: [(String, YAMLSketch)]) -> ConfigNode {
        var line = 2
        let stage = layout(entries, column: 5, line: &line)
        return ConfigNode(.list([stage]), location: SourceLocation(file: file, line: 2, column: 3))
    }

    private static func layout(_ entries: [(String, YAMLSketch)], column: Int, line: inout Int) -> ConfigNode {
        let start = SourceLocation(file: file, line: line, column: column)
        var built: [ConfigEntry] = []
        for (key, value) in entries {
            let keyLocation = SourceLocation(file: file, line: line, column: column)
            switch value {
            case .scalar(let text):
                built.append(
                    ConfigEntry(
                        key: key, keyLocation: keyLocation,
                        value: scalar(text, line: line, column: column + key.count + 2)))
                line += 1
            case .map(let children):
                line += 1
                built.append(ConfigEntry(key: key, keyLocation: keyLocation, value: layout(children, column: column + 2, line: &line)))
            }
        }
        return ConfigNode(.map(built), location: start)
    }

    private static func scalar(_ text: String, line: Int, column: Int) -> ConfigNode {
        let location = SourceLocation(file: file, line: line, column: column)
        if text.hasPrefix("[") && text.hasSuffix("]") {
            var items: [ConfigNode] = []
            var itemColumn = column + 1
            for part in text.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false) {
                let leading = part.prefix { $0 == " " }.count
                let item = String(part.dropFirst(leading))
                if !item.isEmpty { items.append(scalar(item, line: line, column: itemColumn + leading)) }
                itemColumn += part.count + 1
            }
            return ConfigNode(.list(items), location: location, sourceText: text)
        }
        let value: ConfigValue
        switch text {
        case "null", "~": value = .null
        case "true": value = .bool(true)
        case "false": value = .bool(false)
        default:
            if let int = Int(text) { value = .int(int) } else if let double = Double(text) { value = .double(double) } else { value = .string(text) }
        }
        return ConfigNode(value, location: location, sourceText: text)
    }
}
