import Foundation
import NormTesting
import Testing

/// A whole group restarted from checkpoints of the same `sync_step` whose statistics differ (one
/// member's checkpoint replaced by another run's): Docs/SYNC.md, "Restarting from a checkpoint".
/// Their restored hashes differ, so they cannot both be right; the lowest rank's checkpoint wins, as
/// the lowest rank decides a step. Before, each member adopted the other's snapshot at start (same
/// step, another hash): they swapped statistics, and which won depended on the order of messages.
@Suite(.serialized) struct SyncRestoredStatisticsTests {
    @Test func aGroupRestartedFromCheckpointsOfOneStepWithDifferentStatisticsTakesTheLowestRanks() throws {
        let endpoints = SyncGroupTests.endpoints(2)
        let members = try (0..<2).map { try SyncRejoinTests.Member(rank: $0, members: endpoints, timeout: "4s") }
        func step(_ index: Int) throws -> [Consumer.Message] {
            let consumers = try members.map { try $0.feed(step: index, name: "c\($0.rank)-\(index)") }
            return try consumers.flatMap { try $0.messages() }
        }
        #expect(try step(0).map { SyncRejoinTests.sync($0).step } == [1, 1])
        #expect(try step(1).map { SyncRejoinTests.sync($0).step } == [2, 2])
        for member in members { #expect(try member.daemon.terminate() == 0) }

        // Another run: a group of one fed other rows for two steps, so its checkpoint is at step 2 too.
        let otherScratch = try ScratchDirectory()
        let other = try DaemonProcess.started(
            config: SyncGroupTests.config(rank: 0, members: SyncGroupTests.endpoints(1), batch: SyncRejoinTests.size), scratch: otherScratch,
            name: "other-run")
        let otherConsumer = try Consumer(endpoint: try other.outputEndpoint(of: "sensors"), expectRows: 2 * SyncRejoinTests.size, in: otherScratch)
        try Producer(
            endpoint: try other.inputEndpoint(of: "sensors"),
            rowsFile: try TestRows.write(
                TestRows.make(2 * SyncRejoinTests.size, features: SyncGroupTests.features, salt: 991), to: "rows.npy", in: otherScratch),
            messages: MessageSpec.tensors(sizes: [SyncRejoinTests.size, SyncRejoinTests.size], producer: "other")
        ).run(in: otherScratch)
        #expect(try otherConsumer.messages().count == 2)
        #expect(try other.terminate() == 0)
        #expect(try SyncRejoinTests.checkpointedStep(otherScratch) == 2)

        // Rank 1's checkpoint replaced by the other run's.
        let state = members[1].scratch.path("state")
        for name in try FileManager.default.contentsOfDirectory(atPath: state) where name.hasPrefix("normd-state-") {
            try FileManager.default.removeItem(atPath: state + "/" + name)
        }
        let otherFile = try #require(
            try FileManager.default.contentsOfDirectory(atPath: otherScratch.path("state")).filter { $0.hasPrefix("normd-state-") }.max())
        try FileManager.default.copyItem(atPath: otherScratch.path("state/" + otherFile), toPath: state + "/" + otherFile)
        let rankZeros = SyncGroupTests.statistics(try SyncGroupTests.exported(members[0].scratch))
        let otherRuns = SyncGroupTests.statistics(try SyncGroupTests.exported(otherScratch))
        #expect(rankZeros != otherRuns)
        #expect(try members.map { try SyncRejoinTests.checkpointedStep($0.scratch) } == [2, 2])

        for member in members {
            member.daemon = try DaemonProcess.started(
                config: SyncGroupTests.config(rank: member.rank, members: endpoints, batch: SyncRejoinTests.size, timeout: "4s"),
                scratch: member.scratch, name: "member\(member.rank)-again")
        }
        for member in members {
            let resumed = try member.daemon.waitForLine("resume") { $0.message == "sync member resumes at the checkpoint's step" }
            #expect(resumed["step"] == "2")
        }
        // Each asked the other for a snapshot at start: rank 1 adopts rank 0's, rank 0 keeps its own.
        let rejoined = try members[1].daemon.waitForLine("rejoin") { $0.message == "rejoined the sync group" }
        #expect(rejoined["step"] == "2" && rejoined["from_rank"] == "0")
        // Rank 0 handled rank 1's snapshot: kept its own statistics (before: adopted rank 1's).
        let answered = try members[0].daemon.waitForLine("rank 1's snapshot handled") {
            $0.message == "kept the restored statistics of the lower rank" || $0.message == "rejoined the sync group"
        }
        #expect(answered.message == "kept the restored statistics of the lower rank", "\(answered)")
        #expect(answered["step"] == "2" && answered["from_rank"] == "1" && answered["restored_from_rank"] == "0")
        // What rank 1 holds now, before any step: rank 0's checkpoint (a checkpoint on request shows it).
        members[1].daemon.send(SIGUSR1)
        _ = try members[1].daemon.waitForLine("checkpoint") { $0.message == "checkpoint written on request" }
        let adopted = SyncGroupTests.statistics(try SyncGroupTests.exported(members[1].scratch))
        #expect(adopted == rankZeros, "\(adopted.filter { rankZeros[$0.key] != $0.value }) vs \(rankZeros.filter { adopted[$0.key] != $0.value })")

        let third = try step(2)
        #expect(third.map { SyncRejoinTests.sync($0).step } == [3, 3])
        #expect(third.allSatisfy { SyncRejoinTests.sync($0).members == [0, 1] && $0.mode == "train" && $0.header?["downgraded"] == nil })
        for member in members { #expect(try member.daemon.terminate() == 0) }
        #expect(!members[0].daemon.logLines.contains { $0.message == "rejoined the sync group" }, "\(members[0].daemon.stderr)")
        #expect(members[1].daemon.logLines.filter { $0.message == "rejoined the sync group" }.count == 1)
        #expect(!members.contains { $0.daemon.logLines.contains { $0.message == "dropped a stale sync contribution" } })
        #expect(try members.map { try SyncRejoinTests.checkpointedStep($0.scratch) } == [3, 3])
        #expect(
            SyncGroupTests.statistics(try SyncGroupTests.exported(members[0].scratch))
                == SyncGroupTests.statistics(try SyncGroupTests.exported(members[1].scratch)))
    }
}
