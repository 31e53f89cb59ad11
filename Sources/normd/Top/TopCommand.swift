import ArgumentParser
import Foundation
import NormConfig

/// `normd top`: a live view of a running daemon for the person on the box, read from its admin
/// endpoint (`/metrics`, `/pipelines`, `/pipelines/{name}/statistics`): per pipeline the mode, rows/s
/// in and out, batches/s, rejects by reason, drops, pending rows, p50/p99 batch latency,
/// `stats_version` and the last checkpoint's age; per stage the spread of its statistics across
/// features, so drift shows at a glance.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Watch a running normd through its admin endpoint (q or Ctrl-C quits).",
        discussion: "Redraws in place on a terminal; --once, or a standard output that is not a terminal, prints one snapshot "
            + "(two readings --interval apart, for the rates) and exits. Exit codes: 0, 64 bad option, 69 the admin endpoint cannot be read."
    )

    @Option(name: .long, help: "The admin endpoint: http://HOST:PORT (the daemon's admin.listen).")
    var admin = "http://127.0.0.1:9464"

    @Option(name: .long, help: "Time between readings (100ms to 1h): e.g. 1s, 500ms.")
    var interval = "1s"

    @Flag(name: .long, help: "Print one snapshot and exit.")
    var once = false

    func run() throws {
        let client: AdminClient
        do { client = try AdminClient(url: admin) } catch { throw failure(ExitStatus.usage, "\(error)") }
        guard let seconds = DurationText.seconds(interval), seconds >= 0.1, seconds <= 3600 else {
            throw failure(ExitStatus.usage, "--interval must be a duration from 100ms to 1h (e.g. 1s, 500ms), got \"\(interval.prefix(40))\"")
        }
        let period = Duration.nanoseconds(Int64(seconds * 1e9))
        if once || isatty(STDOUT_FILENO) != 1 {
            let first = try read(client)
            Thread.sleep(forTimeInterval: seconds)
            let second = try read(client)
            print(TopScreen.lines(previous: first, current: second, source: client.base, interval: period, live: false).joined(separator: "\n"))
            return
        }
        let terminal = TopTerminal()
        defer { terminal.restore() }
        var previous: TopSample?
        while true {
            do {
                let current = try TopSample.read(from: client)
                terminal.draw(TopScreen.lines(previous: previous, current: current, source: client.base, interval: period, live: true))
                previous = current
            } catch {
                // A daemon restarting is worth watching through: say so and keep trying.
                terminal.draw(["normd top  \(client.base)  every \(TopScreen.seconds(period))  (q quits)", "", "\(error)"])
                previous = nil
            }
            if terminal.waitForQuit(timeout: period) { return }
        }
    }

    private func read(_ client: AdminClient) throws -> TopSample {
        do { return try TopSample.read(from: client) } catch { throw failure(ExitStatus.unavailable, "\(error)") }
    }

    private func failure(_ status: ExitCode, _ message: String) -> ExitCode {
        StandardError.print("normd top: \(message)")
        return status
    }
}
