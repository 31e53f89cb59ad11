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
        switch FileKind.of(path, followingLinks: false) {
        case nil, .success(nil)?:
            return // a new file (the atomic writer creates it, or says why not) or a regular one
        case .failure(let error)?:
            throw CommandFailure(ExitStatus.cannotCreate, "\(path): cannot write: \(error.reason)")
        case .success(let kind?)?:
            throw CommandFailure(
                ExitStatus.cannotCreate,
                "\(path): is \(kind); \(option) must be a regular file or a new path (it is replaced by an atomic rename)")
        }
    }
}
