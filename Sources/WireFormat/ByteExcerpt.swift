/// A short, printable rendering of bytes that came from a peer, for error messages and logs.
///
/// A header frame that is really a payload (frames swapped), a 15 MB `dtype` string or a 10 MB
/// producer name must not put megabytes into an error message: the text is cut at `limit` bytes
/// (default 128) and followed by `…(N bytes)` with the whole length, and control bytes
/// (< 0x20 and 0x7F) are shown as `\xNN`, so what a peer sends can never start a log line.
/// Cost: O(`limit`), whatever the input's size.
public enum ByteExcerpt {
    public static let defaultLimit = 128

    /// - Parameter empty: what to show for no bytes (a frame says `(empty frame)`, a string nothing).
    public static func text(_ bytes: UnsafeRawBufferPointer, limit: Int = defaultLimit, empty: String = "(empty frame)") -> String {
        if bytes.isEmpty { return empty }
        return excerpt(bytes, limit: limit)
    }

    /// The same for a String (its UTF-8 bytes); an empty string stays empty.
    public static func text(_ string: String, limit: Int = defaultLimit) -> String {
        var string = string
        return string.withUTF8 { excerpt(UnsafeRawBufferPointer($0), limit: limit) }
    }

    private static func excerpt(_ bytes: UnsafeRawBufferPointer, limit: Int) -> String {
        var escaped: [UInt8] = []
        escaped.reserveCapacity(min(bytes.count, limit) + 16)
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
        return bytes.count > limit ? text + "…(\(bytes.count) bytes)" : text
    }
}
