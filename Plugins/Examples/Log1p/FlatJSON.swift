/// Reads the stage configuration normd passes to `create`: a JSON object whose values this plugin
/// expects to be numbers (or null, meaning the default).
///
/// Small on purpose: a plugin that links Foundation only for this would tie itself to the host's
/// Foundation; a hand-written reader has no such coupling.
enum FlatJSON {
    struct Problem: Error {
        var message: String
        var key: String?
    }

    /// The object's keys in order, each with its number or `nil` for `null`.
    static func numbers(in text: String) -> Result<[(String, Double?)], Problem> {
        var scanner = Scanner(bytes: Array(text.utf8))
        var entries: [(String, Double?)] = []
        guard scanner.take(UInt8(ascii: "{")) else { return .failure(Problem(message: "expected a mapping of parameters")) }
        if scanner.take(UInt8(ascii: "}")) { return .success(entries) }
        repeat {
            guard let key = scanner.string(), scanner.take(UInt8(ascii: ":")) else {
                return .failure(Problem(message: "cannot read the configuration"))
            }
            if scanner.word("null") {
                entries.append((key, nil))
            } else if let number = scanner.number() {
                entries.append((key, number))
            } else {
                return .failure(Problem(message: "expected a number", key: key))
            }
        } while scanner.take(UInt8(ascii: ","))
        guard scanner.take(UInt8(ascii: "}")) else { return .failure(Problem(message: "cannot read the configuration")) }
        return .success(entries)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while position < bytes.count, [9, 10, 13, 32].contains(bytes[position]) { position += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }

        mutating func word(_ text: String) -> Bool {
            skipSpace()
            let word = Array(text.utf8)
            guard bytes[position...].starts(with: word) else { return false }
            position += word.count
            return true
        }

        /// A string without escape sequences (stage keys never need them).
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = position
            while position < bytes.count, bytes[position] != UInt8(ascii: "\"") {
                if bytes[position] == UInt8(ascii: "\\") { return nil }
                position += 1
            }
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func number() -> Double? {
            skipSpace()
            let start = position
            while position < bytes.count, "+-.0123456789eE".utf8.contains(bytes[position]) { position += 1 }
            return Double(String(decoding: bytes[start..<position], as: UTF8.self))
        }
    }
}
