/// A short, printable rendering of message bytes for error messages.
///
/// A header frame that is really a payload (frames swapped) must not put kilobytes of binary into the
/// log: the text is cut at `limit` bytes and control bytes are shown as `\xNN`.
enum ByteExcerpt {
    static func text(_ bytes: UnsafeRawBufferPointer, limit: Int = 120) -> String {
        if bytes.isEmpty { return "(empty frame)" }
        var escaped: [UInt8] = []
        for byte in bytes.prefix(limit) {
            if byte < 0x20 || byte == 0x7F {
                escaped.append(contentsOf: "\\x".utf8)
                escaped.append(contentsOf: (byte < 0x10 ? "0" : "").utf8)
                escaped.append(contentsOf: String(byte, radix: 16).utf8)
            } else {
                escaped.append(byte)
            }
        }
        let text = String(decoding: escaped, as: UTF8.self)
        return bytes.count > limit ? text + "… (\(bytes.count) bytes)" : text
    }
}
