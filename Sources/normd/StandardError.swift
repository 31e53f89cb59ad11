import Foundation

/// Writes user-facing lines (problems, summaries) to stderr. Glibc's `stderr` global is not
/// usable under Swift 6 strict concurrency; FileHandle is.
enum StandardError {
    static func print(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
