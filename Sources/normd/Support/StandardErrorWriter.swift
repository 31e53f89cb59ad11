import Foundation
import Synchronization

/// The one way anything reaches stderr: whole lines through `write(2)`, never a trap.
///
/// Foundation's non-throwing `FileHandle.write(_:)` traps when the write fails, and stderr fails in
/// ordinary operation: `2>/dev/full` or a full disk (`ENOSPC`), a log shipper that closed its end of
/// the pipe (`EPIPE`; SIGPIPE is ignored by `normd run`, see `ProcessSignals`), a closed descriptor
/// (`EBADF`). A daemon must outlive its log, so a line that cannot be written is dropped and counted
/// (`log_lines_dropped` on the counts lines), and the daemon goes on.
enum StandardErrorWriter {
    private static let dropped = Atomic<Int>(0)

    /// Lines dropped since the process started because stderr refused them.
    static var droppedLines: Int { dropped.load(ordering: .relaxed) }

    /// Writes `line` (which should end in a newline) or drops and counts it.
    static func write(_ line: String) {
        var line = line
        let written = line.withUTF8 { writeAll($0) }
        if !written { dropped.add(1, ordering: .relaxed) }
    }

    /// Retries interrupted and short writes; any other failure gives up on the line (a partly
    /// written line is still counted as dropped: the reader cannot use it).
    private static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var offset = 0
        while offset < bytes.count {
            let result = Foundation.write(STDERR_FILENO, base + offset, bytes.count - offset)
            if result > 0 {
                offset += result
            } else if result < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}
