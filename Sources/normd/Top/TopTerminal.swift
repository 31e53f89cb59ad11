import Foundation
import Synchronization

/// The terminal while `normd top` runs live: plain ANSI escape codes, no curses.
///
/// - the alternate screen (`ESC[?1049h`) and a hidden cursor, so quitting gives the shell its screen back as it was;
/// - each frame is drawn from the top-left corner (`ESC[H`), every line cleared to its end (`ESC[K`)
///   and the rest of the screen below (`ESC[J`): a redraw in place, without flicker;
/// - standard input in non-canonical mode without echo and without `ISIG`, so `q` and Ctrl-C arrive
///   as bytes and end the loop normally — the saved termios settings are always restored on the
///   way out (also for SIGTERM and SIGHUP, which only set a flag here).
final class TopTerminal {
    private var saved = termios()
    private let ownsInput: Bool

    /// Set by SIGTERM/SIGHUP/SIGINT (a signal handler may only touch an atomic).
    static let quitSignalled = Atomic<Bool>(false)

    init() {
        ownsInput = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved) == 0
        if ownsInput {
            var raw = saved
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
            withUnsafeMutableBytes(of: &raw.c_cc) {
                $0[Int(VMIN)] = 0; $0[Int(VTIME)] = 0
            }
            tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        }
        for signalNumber in [SIGTERM, SIGHUP, SIGINT] {
            signal(signalNumber) { _ in TopTerminal.quitSignalled.store(true, ordering: .relaxed) }
        }
        write("\u{1B}[?1049h\u{1B}[?25l")
    }

    /// Leaves the terminal as it was found.
    func restore() {
        write("\u{1B}[?25h\u{1B}[?1049l")
        if ownsInput { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
    }

    func draw(_ lines: [String]) {
        write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\u{1B}[J")
    }

    /// Waits up to `timeout` for a key; `true` when the user asked to quit (`q`, `Q`, Ctrl-C, end of input)
    /// or a signal did.
    func waitForQuit(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if Self.quitSignalled.load(ordering: .relaxed) { return true }
            let slice = min(100, max(1, TopScreen.durationSeconds(deadline - .now) * 1000))
            guard ownsInput else {
                usleep(useconds_t(slice * 1000))
                continue
            }
            var item = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            guard poll(&item, 1, Int32(slice)) > 0 else { continue }
            var byte: UInt8 = 0
            let count = read(STDIN_FILENO, &byte, 1)
            if count == 0 || byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") || byte == 3 { return true }
        }
        return Self.quitSignalled.load(ordering: .relaxed)
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress! + written, $0.count - written) }
            guard count > 0 else { return }
            written += count
        }
    }
}
