#if canImport(Glibc)
    import Glibc
#endif
// With NIO in the graph (the admin server), a release build attributes `struct stat` to CDispatch's
// copy of the header: importing it lets the members resolve in debug and release alike.
#if canImport(CDispatch)
    import CDispatch
#endif

/// What a path names, in words for messages: `nil` for a regular file, else `a FIFO`,
/// `a character device`, … (`lstat` reports a symbolic link itself; `stat` what it points to).
enum FileKind {
    /// - Returns: `nil` when `path` does not exist; else `.some(nil)` for a regular file or
    ///   `.some(name)`. Other `errno` values are returned as `.failure` text.
    static func of(_ path: String, followingLinks: Bool) -> Result<String?, FileKindError>? {
        var info = stat()
        guard (followingLinks ? stat(path, &info) : lstat(path, &info)) == 0 else {
            let error = errno
            return error == ENOENT ? nil : .failure(FileKindError(reason: String(cString: strerror(error))))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .success(nil)
        case S_IFLNK: return .success("a symbolic link")
        case S_IFCHR: return .success("a character device")
        case S_IFBLK: return .success("a block device")
        case S_IFIFO: return .success("a FIFO")
        case S_IFSOCK: return .success("a socket")
        case S_IFDIR: return .success("a directory")
        default: return .success("not a regular file")
        }
    }
}

struct FileKindError: Error {
    var reason: String
}
