import StageKit

/// Upper-bound checks on values read from a configuration, each stating its limit and where the
/// limits are explained (`ConfigLimits`, Docs/LIMITS.md).
extension ParameterReader {
    /// Reports `"must be at most LIMIT (Docs/LIMITS.md), got X"` at `key` unless `value <= limit`.
    /// - Parameter bytes: state the limit as a number of bytes (`268435456 bytes = 256 MiB`).
    @discardableResult
    func requireAtMost(_ key: String, _ value: Int, _ limit: Int, bytes: Bool = false) -> Bool {
        let limitText = bytes ? ConfigLimits.bytesText(limit) : "\(limit)"
        return require(key, value <= limit, "must be at most \(limitText) (\(ConfigLimits.reference))")
    }

    /// Reports at `key` unless `text` has at most `limit` UTF-8 bytes (the text itself is not
    /// echoed: it may be megabytes long).
    @discardableResult
    func requireLength(_ key: String, _ text: String, atMost limit: Int) -> Bool {
        guard text.utf8.count > limit else { return true }
        error(key, tooLong(text, limit: limit))
        return false
    }

    /// Reports at `key` unless `items` has at most `limit` entries.
    @discardableResult
    func requireCount(_ key: String, _ items: [ConfigNode], atMost limit: Int, of what: String) -> Bool {
        guard items.count > limit else { return true }
        error(key, "must list at most \(limit) \(what) (\(ConfigLimits.reference)), got \(items.count)")
        return false
    }
}

/// `must be at most 128 bytes long (Docs/LIMITS.md), got a string of 100000 bytes`.
func tooLong(_ text: String, limit: Int) -> String {
    "must be at most \(limit) bytes long (\(ConfigLimits.reference)), got a string of \(text.utf8.count) bytes"
}
