public import Foundation

/// One logfmt line of the daemon's stderr: `ts=… level=info msg="input bound" endpoint=tcp://… pipeline=p`.
public struct LogLine: CustomStringConvertible {
    public let text: String
    public let fields: [String: String]

    public subscript(key: String) -> String? { fields[key] }
    public var level: String? { fields["level"] }
    public var message: String? { fields["msg"] }
    public var description: String { text }

    /// Parses `key=value` pairs; a value is bare or double-quoted with `\"`, `\\` and `\n` escapes.
    public init(_ text: String) {
        self.text = text
        var fields: [String: String] = [:]
        var characters = Substring(text)
        while !characters.isEmpty {
            characters = characters.drop(while: { $0 == " " })
            guard let equals = characters.firstIndex(of: "=") else { break }
            let key = String(characters[..<equals])
            characters = characters[characters.index(after: equals)...]
            var value = ""
            if characters.first == "\"" {
                characters = characters.dropFirst()
                var escaped = false
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if escaped {
                        value.append(character == "n" ? "\n" : character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        value.append(character)
                    }
                }
            } else {
                let end = characters.firstIndex(of: " ") ?? characters.endIndex
                value = String(characters[..<end])
                characters = characters[end...]
            }
            fields[key] = value
        }
        self.fields = fields
    }
}

/// The `counts="…"` value of a counts line: `messages_accepted=10 messages_rejected={wrong_width: 1} …`.
public struct CountsSummary: Equatable, CustomStringConvertible {
    public let text: String

    public init(text: String) { self.text = text }

    public var description: String { text }

    /// The value of `key` as written (`10`, `0`, `{wrong_width: 1}`).
    public subscript(key: String) -> String? {
        var rest = Substring(text)
        while let range = rest.range(of: key + "=") {
            let atWordStart = range.lowerBound == rest.startIndex || rest[rest.index(before: range.lowerBound)] == " "
            let value = rest[range.upperBound...]
            if atWordStart {
                if value.first == "{", let close = value.firstIndex(of: "}") { return String(value[...close]) }
                return String(value.prefix(while: { $0 != " " }))
            }
            rest = value
        }
        return nil
    }

    public func int(_ key: String) -> Int? { self[key].flatMap { Int($0) } }
}
