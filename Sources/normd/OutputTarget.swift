#if canImport(Glibc)
import Glibc
#endif

/// Where a command may write a file it replaces by an atomic rename: a regular file or a path
/// that does not exist yet.
///
/// `rename(2)` replaces whatever the target path names. Given `/dev/full` (or `/dev/null` as
/// root) the device node itself was replaced by a regular file; a FIFO or a symbolic link would be
/// replaced silently too instead of being written through. Those are refused up front (and checked
/// again right before the write), leaving the path untouched.
enum OutputTarget {
    /// - Parameter option: the flag that named `path`, for the message (`--output`).
    /// - Throws: exit 73 with a message when `path` exists and is not a regular file.
    static func check(_ path: String, option: String) throws(CommandFailure) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let error = errno
            if error == ENOENT { return } // a new file: the atomic writer creates it (or says why not)
            throw CommandFailure(ExitStatus.cannotCreate, "\(path): cannot write: \(String(cString: strerror(error)))")
        }
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFLNK: kind = "a symbolic link"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFIFO: kind = "a FIFO"
        case S_IFSOCK: kind = "a socket"
        case S_IFDIR: kind = "a directory"
        default: kind = "not a regular file"
        }
        throw CommandFailure(ExitStatus.cannotCreate,
                             "\(path): is \(kind); \(option) must be a regular file or a new path (it is replaced by an atomic rename)")
    }
}
