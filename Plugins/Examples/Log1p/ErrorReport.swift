import CStageABI

/// Writes a message (and the offending key) into normd's host-owned error buffers.
///
/// The buffers belong to normd and are valid only during the call, so the text is copied in,
/// truncated on a UTF-8 boundary-agnostic byte limit, and always NUL-terminated.
enum ErrorReport {
    static func write(_ message: String, key: String?, to error: UnsafeMutablePointer<normd_stage_error>?) {
        guard let error = error?.pointee else { return }
        copy(message, into: error.message, size: error.message_size)
        copy(key ?? "", into: error.key, size: error.key_size)
    }

    private static func copy(_ text: String, into buffer: UnsafeMutablePointer<CChar>?, size: Int) {
        guard let buffer, size > 0 else { return }
        let bytes = Array(text.utf8.prefix(size - 1))
        for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
        buffer[bytes.count] = 0
    }
}
