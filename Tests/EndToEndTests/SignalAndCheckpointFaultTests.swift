import Foundation
import NormTesting
import Testing

/// Every signal's meaning, a stderr that cannot be written, and a checkpoint directory that breaks
/// while the daemon runs — against the built binary, with real files and sockets.
@Suite(.serialized) struct SignalAndCheckpointFaultTests {
    static let rows = 8, features = 3

    static func config(in scratch: ScratchDirectory, ipc: Bool = false, everyBatches: Int = 100_000) -> String {
        let input = ipc ? "ipc://\(scratch.path("in.sock"))" : "tcp://127.0.0.1:*"
        let output = ipc ? "ipc://\(scratch.path("out.sock"))" : "tcp://127.0.0.1:*"
        return """
            checkpoint: {path: state, every_batches: \(everyBatches), every_seconds: 3600, keep: 3}
            pipelines:
              - name: p
                features: \(features)
                batch: {size: \(rows), max_latency: 10s}
                inputs: [{endpoint: "\(input)", socket: pull, bind: true, codec: tensor}]
                output: {endpoint: "\(output)", socket: push, bind: true}
                stages: [{type: min_max}, {type: batch_norm, momentum: 0.9}]
            """
    }

    static func generation(_ number: Int, in scratch: ScratchDirectory) -> String {
        scratch.path("state") + "/normd-state-" + String(repeating: "0", count: 8 - String(number).count) + "\(number).json"
    }

    static func waitForLine(_ daemon: DaemonUnderTest, _ what: String, _ predicate: (String) -> Bool) throws {
        _ = try waitFor(what, timeout: .seconds(15)) { daemon.logLines.contains(where: predicate) ? true : nil }
    }

    static func exchange(_ daemon: DaemonUnderTest, _ indices: Range<Int>) throws {
        _ = try TensorClient.exchange(daemon, indices: indices, rows: rows, features: features)
    }

    // MARK: signals

    /// SIGHUP on an unchanged file reloads it keeping every stage (ReloadTests covers changes).
    @Test func sighupReloadsSigusr2IsLoggedAndIgnoredAndSigusr1WritesACheckpointNow() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(in: scratch), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        try Self.exchange(daemon, 0..<2)

        daemon.send(SIGHUP)
        try Self.waitForLine(daemon, "reload succeeded") {
            let line = LogLine($0)
            return line.message == "reload succeeded" && line["result"] == "success" && line["reset"] == ""
                && line["kept"]?.isEmpty == false && line["added"] == "" && line["removed"] == ""
        }
        daemon.send(SIGUSR2)
        try Self.waitForLine(daemon, "SIGUSR2 ignored") { $0 == "level=notice msg=\"signal has no meaning to normd; ignored\" signal=SIGUSR2" }
        daemon.send(SIGUSR1)
        // The pipeline's snapshot may be written on its own first (a generation whose statistics
        // are the same), so the requested one is generation 1 or 2.
        try Self.waitForLine(daemon, "the requested checkpoint") {
            $0.hasPrefix("level=info msg=\"checkpoint written on request\" file=\(scratch.path("state"))/normd-state-0000000")
                && $0.hasSuffix(" signal=SIGUSR1")
        }
        let requested = try #require(daemon.logLines.last { $0.contains("checkpoint written on request") }.map(LogLine.init)?["file"])
        #expect(FileManager.default.fileExists(atPath: requested))
        try Self.waitForLine(daemon, "the counts") {
            let line = LogLine($0)
            return line.message == "counts" && line["counts"]?.hasPrefix("messages_accepted=2 rows_accepted=16 ") == true
                && line["checkpoint_write_failures"] == "0" && line["log_lines_dropped"] == "0"
        }
        #expect(daemon.isRunning)

        try Self.exchange(daemon, 2..<3)
        #expect(daemon.terminate() == 0)
        let newest = try #require(try FileManager.default.contentsOfDirectory(atPath: scratch.path("state")).sorted().last)
        let number = try #require(Int(newest.dropFirst("normd-state-".count).dropLast(".json".count)))
        #expect(requested < scratch.path("state/\(newest)"), "the batch after SIGUSR1 is in a newer generation")
        #expect(
            daemon.logLines.contains("level=info msg=\"final checkpoint\" file=\(scratch.path("state/\(newest)")) generation=\(number)"),
            "\(daemon.log)")
        #expect(daemon.logLines.last == "level=info msg=\"normd stopped\" final_checkpoint=\(scratch.path("state/\(newest)"))", "\(daemon.log)")
    }

    @Test func sigquitKeepsItsDefaultActionACoreDump() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(in: scratch), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        daemon.send(SIGQUIT)
        #expect(daemon.waitForExit() == SIGQUIT, "\(daemon.log)")
        #expect(!daemon.log.contains("normd stopped"))
    }

    /// `normd run` with stderr going to `stderr` (a closed pipe, /dev/full, a full file system) and
    /// ipc endpoints, since the log that names the bound ports may be unreadable.
    final class RawDaemon {
        let process = Process()
        let scratch: ScratchDirectory

        init(scratch: ScratchDirectory, stderr: FileHandle) throws {
            self.scratch = scratch
            let config = try scratch.write(SignalAndCheckpointFaultTests.config(in: scratch, ipc: true), to: "normd.yaml")
            process.executableURL = Normd.binary
            process.arguments = ["run", "--config", config, "--counts-interval", "60"]
            process.currentDirectoryURL = scratch.url
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = stderr
            try process.run()
            _ = try waitFor("both sockets bound", timeout: .seconds(15)) {
                ["in.sock", "out.sock"].allSatisfy { FileManager.default.fileExists(atPath: scratch.path($0)) } ? true : nil
            }
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }

        func exchange(_ indices: Range<Int>) throws -> [[Float]] {
            try TensorClient.exchange(
                input: "ipc://\(scratch.path("in.sock"))", output: "ipc://\(scratch.path("out.sock"))",
                indices: indices, rows: SignalAndCheckpointFaultTests.rows, features: SignalAndCheckpointFaultTests.features)
        }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        func waitForFile(_ path: String) throws {
            _ = try waitFor("\(path) to be written", timeout: .seconds(15)) { FileManager.default.fileExists(atPath: path) ? true : nil }
        }

        /// SIGTERM; the exit status.
        func terminate() throws -> Int32 {
            signal(SIGTERM)
            _ = try waitFor("normd to exit", timeout: .seconds(30)) { process.isRunning ? nil : true }
            return process.terminationStatus
        }
    }

    /// Runs the daemon with an unusable stderr through a batch, SIGHUP, SIGUSR1 (a checkpoint now),
    /// another batch and SIGTERM (exit 0 with the final checkpoint).
    func runsNormallyWithout(stderr: FileHandle, in scratch: ScratchDirectory) throws -> RawDaemon {
        let daemon = try RawDaemon(scratch: scratch, stderr: stderr)
        #expect(try daemon.exchange(0..<2).count == 2)
        daemon.signal(SIGHUP)
        daemon.signal(SIGUSR1)
        try daemon.waitForFile(Self.generation(1, in: scratch))
        #expect(try daemon.exchange(2..<3).count == 1)
        #expect(daemon.process.isRunning)
        #expect(try daemon.terminate() == 0)
        #expect(daemon.process.terminationReason == .exit)
        #expect(FileManager.default.fileExists(atPath: Self.generation(2, in: scratch)), "the final checkpoint")
        return daemon
    }

    @Test func stderrClosedByItsReaderDoesNotKillTheDaemon() throws {
        let scratch = try ScratchDirectory()
        let pipe = Pipe()
        try pipe.fileHandleForReading.close() // the log shipper went away
        _ = try runsNormallyWithout(stderr: pipe.fileHandleForWriting, in: scratch)
    }

    @Test func stderrOnAFullDeviceDropsLinesInsteadOfTrapping() throws {
        let scratch = try ScratchDirectory()
        let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        _ = try runsNormallyWithout(stderr: full, in: scratch)
    }

    /// stderr on a file system that is full at first (a 64 KiB tmpfs — the tests run as root), then
    /// gets room: the lines that could not be written are counted in the next counts line.
    @Test func droppedLogLinesAreCountedOnceTheLogIsWritableAgain() throws {
        let scratch = try ScratchDirectory()
        let disk = try TinyFilesystem(in: scratch, name: "logfs")
        let log = disk.path + "/normd.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        try disk.fill()

        let daemon = try RawDaemon(scratch: scratch, stderr: try #require(FileHandle(forWritingAtPath: log)))
        #expect(try daemon.exchange(0..<1).count == 1)
        try disk.makeRoom()
        daemon.signal(SIGUSR1)
        let counts = try waitFor("a counts line", timeout: .seconds(15)) { () -> LogLine? in
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map { LogLine(String($0)) }.first { $0.message == "counts" }
        }
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(!text.contains("normd running"), "the start-up lines were dropped: \(text)")
        let dropped = try #require(counts["log_lines_dropped"].flatMap(Int.init), "\(counts)")
        #expect(dropped >= 3, "at least 'input bound', 'output bound' and 'normd running': \(counts)")
        #expect(try daemon.terminate() == 0)
        let final = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { LogLine(String($0)) }
            .last { $0.message == "final counts" }
        #expect(final?["log_lines_dropped"] == "\(dropped)", "no line dropped once there was room: \(final as Any)")
    }

    // MARK: checkpoint faults

    @Test func aFullDiskUnderTheCheckpointDirectoryGivesExit73AndNamesNoGeneration() throws {
        let scratch = try ScratchDirectory()
        let disk = try TinyFilesystem(in: scratch, name: "statefs")
        let config = try scratch.write(
            Self.config(in: scratch, everyBatches: 1).replacingOccurrences(of: "path: state", with: "path: \(disk.path)"),
            to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        try Self.exchange(daemon, 0..<1)
        let first = disk.path + "/normd-state-00000001.json"
        try Self.waitForLine(daemon, "generation 1") { _ in FileManager.default.fileExists(atPath: first) }
        try disk.fill()
        try Self.exchange(daemon, 1..<3)
        try Self.waitForLine(daemon, "writes failing") {
            $0.hasPrefix("level=error msg=\"checkpoint writes failing; statistics since the last written generation are not durable\" error=")
                && $0.hasSuffix(" last_written=\(first)")
        }
        #expect(daemon.terminate() == 73, "\(daemon.log)")
        let last = try #require(daemon.logLines.last)
        #expect(last.hasPrefix("level=error msg=\"normd stopped: the final checkpoint was not written\" checkpoint_write_failures="), "\(last)")
        #expect(last.hasSuffix(" exit_code=73 final_checkpoint=none"), "\(last)")
        #expect(!daemon.log.contains("msg=\"final checkpoint\" file="), "no generation is named as the final one")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: disk.path).filter { $0.hasPrefix("normd-state-") } == ["normd-state-00000001.json"])
    }

    @Test func aCheckpointDirectoryThatBreaksWhileRunningIsReportedOncePerChangeAndExits73() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(in: scratch, everyBatches: 1), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        let state = scratch.path("state")
        func breakDirectory() throws {
            try FileManager.default.removeItem(atPath: state)
            try "not a directory".write(toFile: state, atomically: false, encoding: .utf8)
        }
        func failingLines() -> Int { daemon.logLines.filter { $0.hasPrefix("level=error msg=\"checkpoint writes failing") }.count }

        try Self.exchange(daemon, 0..<1)
        try Self.waitForLine(daemon, "generation 1") { _ in FileManager.default.fileExists(atPath: Self.generation(1, in: scratch)) }
        try breakDirectory()
        try Self.exchange(daemon, 1..<2)
        try Self.waitForLine(daemon, "writes failing") { $0.hasPrefix("level=error msg=\"checkpoint writes failing") }
        try Self.exchange(daemon, 2..<4)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(failingLines() == 1, "logged once per change, not per batch: \(daemon.log)")

        try FileManager.default.removeItem(atPath: state)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false)
        try Self.exchange(daemon, 4..<5)
        try Self.waitForLine(daemon, "writes recovered") { $0.hasPrefix("level=notice msg=\"checkpoint writes recovered\" failures=") }
        try breakDirectory()
        try Self.exchange(daemon, 5..<6)
        try Self.waitForLine(daemon, "writes failing again") { _ in failingLines() == 2 }

        #expect(daemon.terminate() == 73, "\(daemon.log)")
        let lines = daemon.logLines
        #expect(lines.contains { $0.hasPrefix("level=error msg=\"final checkpoint failed; none written at shutdown\" error=") }, "\(daemon.log)")
        let finalCounts = try #require(lines.last { $0.hasPrefix("level=info msg=\"final counts\"") }.map(LogLine.init))
        let failures = try #require(finalCounts["checkpoint_write_failures"].flatMap(Int.init), "\(finalCounts)")
        #expect(failures >= 3, "every failed write is counted, though only 2 were logged: \(finalCounts)")
        let last = try #require(lines.last)
        #expect(last.hasPrefix("level=error msg=\"normd stopped: the final checkpoint was not written\" checkpoint_write_failures="), "\(last)")
        #expect(last.hasSuffix(" exit_code=73 final_checkpoint=none"), "\(last)")
        #expect(!lines.contains { $0.hasPrefix("level=info msg=\"final checkpoint\"") })
    }

    @Test func aRestoreOfAnOlderGenerationThanTheNewestSaysSo() throws {
        let scratch = try ScratchDirectory()
        let config = try scratch.write(Self.config(in: scratch, everyBatches: 1), to: "normd.yaml")
        let daemon = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        try Self.exchange(daemon, 0..<2)
        #expect(daemon.terminate() == 0)
        let written = try #require(try FileManager.default.contentsOfDirectory(atPath: scratch.path("state")).sorted().last)
        let writtenNumber = try #require(Int(written.dropFirst("normd-state-".count).dropLast(".json".count)))
        // A damaged generation newer than every readable one (however many the writer coalesced into).
        let newestNumber = writtenNumber + 1
        try "{".write(toFile: Self.generation(newestNumber, in: scratch), atomically: false, encoding: .utf8)

        let restarted = try DaemonUnderTest(config: config, logDirectory: scratch.url)
        #expect(restarted.terminate() == 0)
        #expect(
            restarted.logLines.contains(
                "level=warning msg=\"restored a checkpoint generation older than the newest in the directory\" "
                    + "loaded=\(Self.generation(newestNumber - 1, in: scratch)) newest=\(Self.generation(newestNumber, in: scratch))"),
            "\(restarted.log)")
    }
}

/// A 64 KiB tmpfs mounted in the scratch directory (the tests run as root), filled up on demand:
/// a full disk that a test can create and clear without touching the machine's own.
final class TinyFilesystem {
    let path: String
    private let scratch: ScratchDirectory

    init(in scratch: ScratchDirectory, name: String) throws {
        self.scratch = scratch
        path = scratch.path(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = try Subprocess(
            "mount-\(name)", executable: URL(fileURLWithPath: "/bin/mount"),
            arguments: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", path], in: scratch.url)
        try #require(try mount.waitForExit(timeout: .seconds(10)) == 0, "mounting a tmpfs needs root: \(mount.stderr)")
    }

    deinit {
        _ = try? Subprocess("umount", executable: URL(fileURLWithPath: "/bin/umount"), arguments: ["-l", path], in: scratch.url)
            .waitForExit(timeout: .seconds(10))
    }

    private var filler: String { path + "/filler" }

    /// Writes a filler file until the file system refuses more.
    func fill() throws {
        FileManager.default.createFile(atPath: filler, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: filler))
        while (try? handle.write(contentsOf: Data(count: 1024))) != nil {}
        try? handle.close()
    }

    func makeRoom() throws {
        try FileManager.default.removeItem(atPath: filler)
    }
}
