#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A forward-only JSON tokenizer over borrowed bytes, written for headers on the hot path.
///
/// Foundation's `JSONSerialization` builds a dictionary of boxed objects per message; this scanner
/// allocates nothing unless asked to decode a string (or to report an error). It accepts full JSON
/// syntax — escapes, nested values in keys it skips, every number form — plus Python's `NaN`,
/// `Infinity` and `-Infinity`, which `json.dumps` writes for non-finite floats by default.
struct JSONScanner {
    /// A string token: the raw bytes between the quotes, escapes not yet resolved.
    struct StringToken {
        var range: Range<Int>
        var hasEscapes: Bool
    }

    /// Nesting deeper than this is rejected, so hostile input cannot exhaust a thread's stack.
    static let maximumDepth = 128

    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: structure

    /// Skips whitespace and returns the next byte without consuming it (nil at the end).
    @inline(__always)
    mutating func peek() -> UInt8? {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return bytes[position]
            }
        }
        return nil
    }

    /// Consumes `byte` if it comes next (after whitespace).
    @inline(__always)
    mutating func consume(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        position += 1
        return true
    }

    /// Consumes `byte` or throws "expected …".
    mutating func expect(_ byte: UInt8, _ expected: @autoclosure () -> String) throws(JSONSyntaxError) {
        guard consume(byte) else { throw error(expected()) }
    }

    /// After a member or element: true on `,` (another follows), false on `close` (consumed).
    @inline(__always)
    mutating func separator(close: UInt8) throws(JSONSyntaxError) -> Bool {
        if consume(0x2C) { return true }
        if consume(close) { return false }
        throw error("expected ',' or '\(Character(Unicode.Scalar(close)))'")
    }

    /// Throws unless only whitespace is left.
    mutating func expectEnd() throws(JSONSyntaxError) {
        guard peek() == nil else { throw error("expected the end of the text") }
    }

    /// An error at the current position, naming what was found there.
    func error(_ expected: String) -> JSONSyntaxError {
        let found: String
        if position >= bytes.count {
            found = "the end"
        } else {
            let byte = bytes[position]
            found = (0x20..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x" + String(byte, radix: 16)
        }
        return JSONSyntaxError(message: "\(expected), found \(found) at byte \(position)")
    }

    // MARK: strings

    /// Scans a string token; the next non-whitespace byte must be `"`.
    mutating func scanString() throws(JSONSyntaxError) -> StringToken {
        guard peek() == 0x22 else { throw error("expected a string") }
        let opening = position
        position += 1
        let start = position
        var hasEscapes = false
        while position < bytes.count {
            // Fast path: run over ordinary characters with a local index (no stores to `self`).
            var index = position
            while index < bytes.count, bytes[index] != 0x22, bytes[index] != 0x5C, bytes[index] >= 0x20 { index += 1 }
            position = index
            guard position < bytes.count else { break }
            let byte = bytes[position]
            if byte == 0x22 {
                defer { position += 1 }
                return StringToken(range: start..<position, hasEscapes: hasEscapes)
            }
            if byte == 0x5C { // backslash
                hasEscapes = true
                position += 1
                guard position < bytes.count else { break }
                switch bytes[position] {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: // " \ / b f n r t
                    position += 1
                case 0x75: // u
                    for offset in 1...4 {
                        guard position + offset < bytes.count, Self.hexValue(bytes[position + offset]) != nil else {
                            position += offset
                            throw error("expected 4 hex digits after \\u")
                        }
                    }
                    position += 5
                default:
                    throw error("expected an escape character after '\\'")
                }
                continue
            }
            guard byte >= 0x20 else { throw error("expected a printable character in a string (escape control characters)") }
            position += 1
        }
        position = bytes.count
        throw JSONSyntaxError(message: "unterminated string starting at byte \(opening)")
    }

    /// Whether the token equals `literal`, comparing raw bytes (escaped tokens are decoded first).
    @inline(__always)
    func matches(_ token: StringToken, _ literal: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        if token.hasEscapes {
            // An escape is at most 6 raw bytes for at least 1 decoded byte: a longer token cannot
            // match, and is not decoded (it may be megabytes).
            guard token.range.count <= 6 * expected.count else { return false }
            return decode(token).utf8.elementsEqual(expected)
        }
        guard token.range.count == expected.count else { return false }
        return memcmp(bytes.baseAddress! + token.range.lowerBound, expected.baseAddress!, expected.count) == 0
    }

    /// The raw bytes of a token (between the quotes, escapes unresolved).
    func rawBytes(_ token: StringToken) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[token.range])
    }

    /// The token's text with escapes resolved (allocates unless the string is small).
    func decode(_ token: StringToken) -> String {
        let raw = rawBytes(token)
        guard token.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
            utf8.removeAll(keepingCapacity: true)
        }
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            guard byte == 0x5C else {
                utf8.append(byte)
                index += 1
                continue
            }
            let escape = raw[index + 1]
            index += 2
            let simple: UInt8? =
                switch escape {
                case 0x62: 0x08
                case 0x66: 0x0C
                case 0x6E: 0x0A
                case 0x72: 0x0D
                case 0x74: 0x09
                case 0x75: nil
                default: escape // " \ /
                }
            if let simple {
                utf8.append(simple)
                continue
            }
            var unit = Self.hex4(raw, at: index)
            index += 4
            // A high surrogate followed by \uDC00…\uDFFF is one scalar; a lone surrogate becomes U+FFFD.
            if (0xD800..<0xDC00).contains(unit), index + 6 <= raw.count, raw[index] == 0x5C, raw[index + 1] == 0x75 {
                let low = Self.hex4(raw, at: index + 2)
                if (0xDC00..<0xE000).contains(low) {
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
            }
            flush()
            scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}")
        }
        flush()
        return String(scalars)
    }

    // MARK: numbers and literals

    /// Scans a number by JSON's grammar (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`).
    mutating func scanNumber() throws(JSONSyntaxError) -> Range<Int> {
        _ = peek()
        let start = position
        if position < bytes.count, bytes[position] == 0x2D { position += 1 } // -
        guard isDigit(at: position) else { throw error("expected a number") }
        if bytes[position] == 0x30 { position += 1 } else { skipDigits() }
        if position < bytes.count, bytes[position] == 0x2E { // .
            position += 1
            guard isDigit(at: position) else { throw error("expected a digit after '.'") }
            skipDigits()
        }
        if position < bytes.count, bytes[position] | 0x20 == 0x65 { // e E
            position += 1
            if position < bytes.count, bytes[position] == 0x2B || bytes[position] == 0x2D { position += 1 }
            guard isDigit(at: position) else { throw error("expected a digit in the exponent") }
            skipDigits()
        }
        return start..<position
    }

    /// A number token's value if it is a plain non-negative integer that fits `UInt64`.
    func unsignedInteger(_ range: Range<Int>) -> UInt64? {
        var value: UInt64 = 0
        if range.count <= 19 { // cannot overflow: 19 digits < 2^64
            for index in range {
                let digit = bytes[index] &- 0x30
                guard digit < 10 else { return nil }
                value = value &* 10 &+ UInt64(digit)
            }
            return value
        }
        for index in range {
            let digit = bytes[index] &- 0x30
            guard digit < 10 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// Reads a number as Double, including Python's `NaN`, `Infinity` and `-Infinity`.
    mutating func scanDouble() throws(JSONSyntaxError) -> Double {
        switch peek() {
        case 0x4E where literal("NaN"): return .nan
        case 0x49 where literal("Infinity"): return .infinity
        case 0x2D where literal("-Infinity"): return -.infinity
        default: break
        }
        let range = try scanNumber()
        // Valid JSON number text is valid Swift float text; Double(String) rounds correctly.
        // Numbers up to 15 bytes are small strings, so this does not allocate for typical values.
        // Beyond Double's range the value is ±∞ (as in Python), left to the non-finite policy.
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        return Double(text) ?? (bytes[range.lowerBound] == 0x2D ? -.infinity : .infinity)
    }

    /// A `seq` value: a non-negative integer below 2^64, or `null` for none.
    mutating func scanSequenceNumber() throws(JSONSyntaxError) -> UInt64? {
        if literal("null") { return nil }
        let start = position
        guard let next = peek(), next == 0x2D || next &- 0x30 < 10 else {
            throw error("expected \"seq\" to be a non-negative integer")
        }
        let range = try scanNumber()
        guard let value = unsignedInteger(range) else {
            position = start
            throw error("expected \"seq\" to be a non-negative integer below 2^64")
        }
        return value
    }

    /// Consumes `text` if it comes next (after whitespace).
    mutating func literal(_ text: StaticString) -> Bool {
        _ = peek()
        let count = text.utf8CodeUnitCount
        guard bytes.count - position >= count else { return false }
        for index in 0..<count where bytes[position + index] != text.utf8Start[index] { return false }
        position += count
        return true
    }

    /// Skips one value of any type, checking its syntax.
    mutating func skipValue(depth: Int = 0) throws(JSONSyntaxError) {
        guard depth < Self.maximumDepth else { throw error("expected nesting of at most \(Self.maximumDepth) levels") }
        switch peek() {
        case 0x7B: // {
            position += 1
            if consume(0x7D) { return }
            repeat {
                _ = try scanString()
                try expect(0x3A, "expected ':' after an object key")
                try skipValue(depth: depth + 1)
            } while try separator(close: 0x7D)
        case 0x5B: // [
            position += 1
            if consume(0x5D) { return }
            repeat { try skipValue(depth: depth + 1) } while try separator(close: 0x5D)
        case 0x22:
            _ = try scanString()
        case 0x74 where literal("true"), 0x66 where literal("false"), 0x6E where literal("null"):
            return
        default:
            _ = try scanDouble()
        }
    }

    // MARK: helpers

    private func isDigit(at index: Int) -> Bool {
        index < bytes.count && bytes[index] &- 0x30 < 10
    }

    private mutating func skipDigits() {
        var index = position
        while index < bytes.count, bytes[index] &- 0x30 < 10 { index += 1 }
        position = index
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: UInt32(byte - 0x30)
        case 0x41...0x46: UInt32(byte - 0x41 + 10)
        case 0x61...0x66: UInt32(byte - 0x61 + 10)
        default: nil
        }
    }

    private static func hex4(_ raw: UnsafeRawBufferPointer, at index: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 4 | (hexValue(raw[index + $1]) ?? 0) }
    }
}

/// Where a JSON text broke: "expected …, found … at byte N".
struct JSONSyntaxError: Error {
    var message: String
}
