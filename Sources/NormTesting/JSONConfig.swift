public import Foundation
public import StageKit

/// Turns JSON (as `JSONSerialization` parses it) into a `ConfigNode` tree, the way the plugin ABI
/// hands a stage its configuration. Map keys are sorted so messages come out in a stable order.
public enum JSONConfig {
    public static func node(_ json: Any) -> ConfigNode {
        switch json {
        case is NSNull:
            return ConfigNode(.null)
        case let number as NSNumber:
            // swift-corelibs-foundation marks booleans with objCType "c" and decimals with "d".
            switch String(cString: number.objCType) {
            case "c": return ConfigNode(.bool(number.boolValue))
            case "d", "f": return ConfigNode(.double(number.doubleValue))
            default: return ConfigNode(.int(number.intValue))
            }
        case let text as String:
            return ConfigNode(.string(text))
        case let list as [Any]:
            return ConfigNode(.list(list.map(node)))
        case let map as [String: Any]:
            return ConfigNode(.map(map.keys.sorted().map { ConfigEntry(key: $0, value: node(map[$0] as Any)) }))
        default:
            return ConfigNode(.string(String(describing: json)))
        }
    }

    /// A mapping node from `(key, value)` pairs in the given order.
    public static func map(_ entries: [(String, ConfigNode)]) -> ConfigNode {
        ConfigNode(.map(entries.map { ConfigEntry(key: $0.0, value: $0.1) }))
    }
}
