#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed step of an atomic write, with the `errno` text.
public struct AtomicWriteError: Error, Sendable, Equatable, CustomStringConvertible {
    public var step: String
    public var reason: String
    public var description: String { "\(step): \(reason)" }
}

/// Replaces a file so that readers, and the file after a crash or power loss, see either the old
/// content or the whole new content — never a mix or a truncated file.
///
/// Writes a temporary file in the same directory (so `rename` stays on one file system), `fsync`s it,
/// `rename`s it over the target, then `fsync`s the directory so the rename itself is durable.
/// On any failure the temporary file is removed and the target is untouched.
public enum AtomicFileWriter {
    public static func write(_ bytes: [UInt8], to path: String, permissions: UInt32 = 0o644) throws(AtomicWriteError) {
        let directory = directoryName(of: path)
        let baseName = String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        var template = Array("\(directory)/.\(baseName).tmp-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw failure("cannot create a temporary file in \(directory)") }
        let temporaryPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var renamed = false
        defer { if !renamed { unlink(temporaryPath) } }

        do {
            defer { close(descriptor) }
            guard fchmod(descriptor, mode_t(permissions)) == 0 else { throw failure("fchmod \(temporaryPath)") }
            var written = 0
            while written < bytes.count {
                let result = bytes.withUnsafeBytes { buffer in
                    Glibc.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw failure("write \(temporaryPath)")
                }
                written += result
            }
            guard fsync(descriptor) == 0 else { throw failure("fsync \(temporaryPath)") }
        }
        guard rename(temporaryPath, path) == 0 else { throw failure("rename to \(path)") }
        renamed = true

        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY)
        guard directoryDescriptor >= 0 else { throw failure("open directory \(directory)") }
        defer { close(directoryDescriptor) }
        guard fsync(directoryDescriptor) == 0 else { throw failure("fsync directory \(directory)") }
    }

    static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    private static func failure(_ step: String) -> AtomicWriteError {
        AtomicWriteError(step: step, reason: String(cString: strerror(errno)))
    }
}
