import Foundation
import NormTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A reload that changes a pipeline's `sync:` section. The group member (its ROUTER, DEALERs and
/// step state) is made when the pipeline's thread starts, so a reload in place could not apply a
/// new group, rank, member list or timeout: it would say "success" and keep the old group. A
/// changed `sync:` therefore re-binds the pipeline, as changed endpoints do, and its sync series
/// follow the new member list.
@Suite(.serialized) struct SyncReloadTests {
    @Test func aChangedSyncSectionRebindsThePipelineAndItsSeriesFollow() throws {
        let scratch = try ScratchDirectory()
        let alone = SyncGroupTests.endpoints(1)
        let daemon = try DaemonProcess.started(
            config: SyncGroupTests.config(rank: 0, members: alone, batch: 8, timeout: "1s", admin: true), scratch: scratch)
        #expect(try SyncGroupTests.syncMetrics(daemon) == Self.zero(members: 1))

        // A second member joins the list (not running: only the member list is checked here).
        let pair = alone + SyncGroupTests.endpoints(1)
        try SyncGroupTests.config(rank: 0, members: pair, batch: 8, timeout: "1s", admin: true).write(
            toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let outcome = try ReloadAdminTests.sighup(daemon, 1)
        #expect(outcome.message == "reload succeeded", "\(daemon.stderr)")
        let rebound = try #require(daemon.logLines.first { $0.message == "reload: pipeline re-bound" }, "\(daemon.stderr)")
        #expect(rebound["pipeline"] == "sensors")
        #expect(rebound["changed"] == "sync")
        #expect(try SyncGroupTests.syncMetrics(daemon) == Self.zero(members: 2))

        // Back to one member: rank 1's series go with it.
        try SyncGroupTests.config(rank: 0, members: alone, batch: 8, timeout: "1s", admin: true).write(
            toFile: daemon.configPath, atomically: true, encoding: .utf8)
        #expect(try ReloadAdminTests.sighup(daemon, 2).message == "reload succeeded", "\(daemon.stderr)")
        #expect(daemon.logLines.filter { $0.message == "reload: pipeline re-bound" }.count == 2)
        #expect(try SyncGroupTests.syncMetrics(daemon) == Self.zero(members: 1))
        #expect(try daemon.terminate() == 0, "\(daemon.stderr)")
    }

    /// The bind probe covers a re-bound pipeline's sync ROUTER (`members[rank]`) as it does its
    /// inputs and outputs: a new member endpoint another process holds refuses the whole reload
    /// before anything changes (422, located), and the running member stays in its group.
    @Test func aTakenSyncEndpointRefusesTheReloadAndNothingChanges() throws {
        let scratch = try ScratchDirectory()
        let alone = SyncGroupTests.endpoints(1)
        let daemon = try DaemonProcess.started(
            config: SyncGroupTests.config(rank: 0, members: alone, batch: 8, timeout: "1s", admin: true), scratch: scratch)
        let admin = try AdminHTTP(daemon)
        let (holder, taken) = try ReloadAdminTests.listeningSocket()
        defer { close(holder) }
        let answer = try ReloadPipelinesTests.reload(
            daemon, to: SyncGroupTests.config(rank: 0, members: ["tcp://127.0.0.1:\(taken)"], batch: 8, timeout: "1s", admin: true), admin)
        #expect(answer.status == 422, "\(answer.body)")
        let problems = try #require((answer.json as? [String: Any])?["problems"] as? [String], "\(answer.body)")
        #expect(problems.count == 1, "\(problems)")
        let problem = try #require(problems.first)
        #expect(problem.hasPrefix("\(daemon.configPath):"), "\(problem)")
        #expect(
            problem.contains(": pipelines[0].sync.members[0]: cannot bind tcp://127.0.0.1:\(taken): Address already in use"), "\(problem)")
        #expect(problem.hasSuffix("; nothing changed (no pipeline was re-bound or added)"), "\(problem)")
        #expect(daemon.logLines.contains { $0.message == "reload failed" && $0["configuration"] == "unchanged" })
        #expect(!daemon.logLines.contains { $0.message == "reload: pipeline re-bound" }, "\(daemon.stderr)")
        #expect(!daemon.logLines.contains { $0.message == "sync member stopped" }, "the running member stays: \(daemon.stderr)")
        #expect(daemon.logLines.filter { $0.message == "sync member bound" }.count == 1)
        #expect(try SyncGroupTests.syncMetrics(daemon) == Self.zero(members: 1))
        #expect(try daemon.terminate() == 0, "\(daemon.stderr)")
    }

    /// A member's series with nothing counted yet (`step_seconds_sum` is 0 too: no step ran).
    static func zero(members: Int) -> [String: Double] {
        var series = SyncGroupTests.zeroSyncMetrics(members: members)
        series["step_seconds_sum"] = 0
        return series
    }
}
