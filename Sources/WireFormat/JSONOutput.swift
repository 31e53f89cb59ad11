/// Appending JSON tokens to a reused byte buffer: the output headers are written by hand because a
/// `Codable`/Foundation encoder would allocate a tree and strings for every batch.
extension Array where Element == UInt8 {
    /// Appends ASCII text that needs no escaping (keys, punctuation).
    mutating func appendRaw(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// Appends a decimal integer without building a String.
    mutating func appendDecimal(_ value: UInt64) {
        var digits = 1
        var rest = value
        while rest >= 10 { rest /= 10; digits += 1 }
        let end = count + digits
        append(contentsOf: repeatElement(0x30, count: digits))
        rest = value
        for index in stride(from: end - 1, through: end - digits, by: -1) {
            self[index] = 0x30 + UInt8(rest % 10)
            rest /= 10
        }
    }

    mutating func appendDecimal(_ value: Int) {
        if value < 0 { append(0x2D) }
        appendDecimal(UInt64(value.magnitude))
    }

    /// Appends `value` as a quoted JSON string: `"` `\` and control characters escaped, the rest raw UTF-8.
    mutating func appendJSONString(_ value: String) {
        append(0x22)
        for byte in value.utf8 {
            switch byte {
            case 0x22: appendRaw("\\\"")
            case 0x5C: appendRaw("\\\\")
            case 0x0A: appendRaw("\\n")
            case 0x0D: appendRaw("\\r")
            case 0x09: appendRaw("\\t")
            case 0..<0x20:
                appendRaw("\\u00")
                append(Self.hexDigit(byte >> 4))
                append(Self.hexDigit(byte & 0xF))
            default: append(byte)
            }
        }
        append(0x22)
    }

    mutating func appendJSONStringOrNull(_ value: String?) {
        if let value { appendJSONString(value) } else { appendRaw("null") }
    }

    /// `[start, stop]`.
    mutating func appendRange(_ range: Range<Int>) {
        append(0x5B)
        appendDecimal(range.lowerBound)
        append(0x2C)
        appendDecimal(range.upperBound)
        append(0x5D)
    }

    /// Appends the shortest text that reads back as the same Float32 (Swift's `description`);
    /// non-finite values as Python's `NaN`/`Infinity`/`-Infinity`, which `json.loads` accepts.
    mutating func appendFloat(_ value: Float) {
        if value.isNaN { return appendRaw("NaN") }
        if value.isInfinite { return value < 0 ? appendRaw("-Infinity") : appendRaw("Infinity") }
        append(contentsOf: value.description.utf8)
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10
    }
}
