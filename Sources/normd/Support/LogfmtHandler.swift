import Foundation
import Logging

// With NIO in the graph (the admin server), `timespec` can resolve to CDispatch's copy of the
// header: importing it lets the members resolve in debug and release alike (as in FileKind).
#if canImport(CDispatch)
    import CDispatch
#endif

/// Writes one logfmt line per event to stderr:
/// `ts=2026-11-25T15:40:01.123Z level=info msg="input bound" pipeline=sensors endpoint=tcp://127.0.0.1:41234`.
///
/// logfmt keeps every line greppable by a human and parseable by log shippers (Vector, Loki,
/// Fluent Bit all read it) without a JSON dependency; tests find bound endpoints in it.
struct LogfmtHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let label: String

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "ts=\(Self.timestamp()) level=\(event.level) msg=\(Self.quote(event.message.description))"
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quote(value.description))"
        }
        line += "\n"
        // Never `FileHandle.write`: it traps when stderr is full or closed (see StandardErrorWriter).
        StandardErrorWriter.write(line)
    }

    /// Longest field value written whole, in UTF-8 bytes. Values from peers are already cut to
    /// 128-byte excerpts where they are made (`ByteExcerpt`); this is the backstop for any other,
    /// so no event can cost megabytes of writing on a pipeline thread.
    static let maxValueBytes = 1024

    /// Quotes a value only when it needs it (spaces, quotes, `=`, `\`, control characters), as
    /// logfmt readers expect. Inside quotes `\` and `"` are escaped, `\n` `\r` `\t` written as
    /// such and every other byte < 0x20 or 0x7F as `\xNN`, so no value can end a line or start a
    /// forged one. A value over `maxValueBytes` is cut (at a character boundary) and followed by
    /// `…(N bytes)`. O(length of the written part).
    static func quote(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            var end = bytes.count
            if end > maxValueBytes {
                end = maxValueBytes
                while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 } // not inside a character
            }
            let body = UnsafeBufferPointer(rebasing: bytes[..<end])
            let suffix = end < bytes.count ? "…(\(bytes.count) bytes)" : ""
            let needsQuotes = bytes.isEmpty || body.contains { $0 <= 0x20 || $0 == 0x22 || $0 == 0x3D || $0 == 0x5C || $0 == 0x7F }
            guard needsQuotes else { return String(decoding: body, as: UTF8.self) + suffix }
            var out: [UInt8] = [0x22]
            out.reserveCapacity(body.count + suffix.utf8.count + 8)
            for byte in body {
                switch byte {
                case 0x5C: out += [0x5C, 0x5C]
                case 0x22: out += [0x5C, 0x22]
                case 0x0A: out += [0x5C, 0x6E]
                case 0x0D: out += [0x5C, 0x72]
                case 0x09: out += [0x5C, 0x74]
                case ..<0x20, 0x7F:
                    let hex = Array("0123456789abcdef".utf8)
                    out += [0x5C, 0x78, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
                default: out.append(byte)
                }
            }
            out += suffix.utf8
            out.append(0x22)
            return String(decoding: out, as: UTF8.self)
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1_000_000))
    }
}
