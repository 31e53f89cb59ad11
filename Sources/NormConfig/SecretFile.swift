import Foundation

/// The two checks every file normd reads a secret from passes (the CURVE secret key, the admin
/// token): only its owner may access it, and it is a regular file of bounded size.
enum SecretFile {
    /// Refuses a file that group or others may access (the ssh rule): whoever can read it can
    /// impersonate the daemon (a secret key) or control it (the admin token).
    /// - Parameter what: how the message names the file ("secret key file", "token file").
    static func checkPrivate(_ path: String, what: String) throws(KeyFileError) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw KeyFileError("cannot read \(path): \(String(cString: strerror(errno)))") }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw KeyFileError("\(what) \(path) is accessible by group or others (mode \(String(mode, radix: 8))); run chmod 600 \(path)")
        }
    }

    /// At most `maxBytes` of a regular file; larger is refused, naming the file and what it is not.
    /// Only a regular file: opening a FIFO (or a device) named by mistake would block validation.
    static func read(_ path: String, maxBytes: Int, notWhat: String) throws(KeyFileError) -> Data {
        var status = stat()
        guard stat(path, &status) == 0 else { throw KeyFileError("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard status.st_mode & S_IFMT == S_IFREG else { throw KeyFileError("\(path) is not a regular file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw KeyFileError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: maxBytes + 1) ?? Data() } catch {
            throw KeyFileError("cannot read \(path): \(describe(error))")
        }
        guard data.count <= maxBytes else { throw KeyFileError("\(path) is larger than \(maxBytes) bytes: not \(notWhat)") }
        return data
    }

    static func describe(_ error: any Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }
}
