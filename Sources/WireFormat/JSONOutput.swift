/// Appending JSON tokens to a reused byte buffer: the output headers are written by hand because a
/// `Codable`/Foundation encoder would allocate a tree and strings for every batch.
extension Array where Element == UInt8 {
    /// Appends ASCII text that needs no escaping (keys, punctuation).
    mutating func appendRaw(_ text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a decimal integer without building a String (digits go through a stack buffer).
    mutating func appendDecimal(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes ≥ 20 digits of UInt64.max
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            var start = buffer.count
            var rest = value
            repeat {
                start -= 1
                buffer[start] = 0x30 + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    mutating func appendDecimal(_ value: Int) {
        if value < 0 { append(0x2D) }
        appendDecimal(UInt64(value.magnitude))
    }

    /// Appends `value` as a quoted JSON string: `"` `\` and control characters escaped, the rest raw UTF-8.
    mutating func appendJSONString(_ value: String) {
        append(0x22)
        // Names rarely need escaping: copy them whole, byte by byte only when they do.
        guard value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else {
            append(contentsOf: value.utf8)
            return append(0x22)
        }
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
