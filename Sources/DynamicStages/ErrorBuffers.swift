internal import CStageABI

/// The host-owned error buffers of `normd_stage_error`, allocated once per stage instance so a
/// failing (or succeeding) `process` call allocates nothing.
final class ErrorBuffers {
    static let messageSize = 1024
    static let keySize = 256

    private let message = UnsafeMutablePointer<CChar>.allocate(capacity: ErrorBuffers.messageSize)
    private let key = UnsafeMutablePointer<CChar>.allocate(capacity: ErrorBuffers.keySize)

    init() {
        message.initialize(repeating: 0, count: Self.messageSize)
        key.initialize(repeating: 0, count: Self.keySize)
    }

    deinit {
        message.deallocate()
        key.deallocate()
    }

    /// Buffers zero-filled for one call, as `normd_stage.h` promises: a plugin may write a message
    /// without its NUL, or append to what it finds, and still never sees a previous call's bytes.
    /// (1.25 KiB of memset per call, no allocation.)
    func prepare() -> normd_stage_error {
        message.update(repeating: 0, count: Self.messageSize)
        key.update(repeating: 0, count: Self.keySize)
        return normd_stage_error(message: message, message_size: Self.messageSize, key: key, key_size: Self.keySize)
    }

    /// What the plugin wrote, read no further than the buffer even if it forgot the NUL.
    var reported: (message: String, key: String) {
        (Self.text(message, size: Self.messageSize), Self.text(key, size: Self.keySize))
    }

    private static func text(_ buffer: UnsafeMutablePointer<CChar>, size: Int) -> String {
        let bytes = UnsafeRawBufferPointer(start: buffer, count: size)
        let end = bytes.firstIndex(of: 0) ?? size
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
