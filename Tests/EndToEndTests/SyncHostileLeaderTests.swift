import Foundation
import NormTesting
import Testing

/// A leader's result is checked before a member trains from it (issue 12, Docs/SYNC.md "A leader's
/// result is checked"). The leader is a pyzmq ROUTER bound at `members[0]` posing as rank 0 — what
/// a hostile peer of a group without CURVE can do — answering the real rank-1 daemon's contributions
/// with well-formed results (valid moments, right width) that disagree with what rank 1 knows: its
/// own rows and stage 0 of the same step. Before the check, rank 1 trained from them: with a stage-1
/// count of 0 the batch-norm stages returned early and the rows went out unnormalized as `train`.
@Suite(.serialized) struct SyncHostileLeaderTests {
    /// One way the fake leader bends its answer; `honest` echoes the contribution (rank 0 adds no
    /// row), the control that the harness lets a good result through.
    struct Case: CustomStringConvertible, Sendable {
        var mode: String
        /// The stage whose result is refused and the logged reason; `nil` for `honest`.
        var refusedStage: Int?
        var reason: String?
        var description: String { mode }

        static let all = [
            Case(mode: "honest"),
            Case(mode: "count_zero", refusedStage: 1, reason: "its merged count 0 is below this member's own 8 rows"),
            Case(mode: "below_own", refusedStage: 0, reason: "its merged count 4 is below this member's own 8 rows"),
            Case(
                mode: "stages_differ", refusedStage: 1, reason: "its merged count 16 differs from stage 0's 8 with the same ranks present"),
            Case(mode: "without_me", refusedStage: 0, reason: "its ranks present [0] leave out this member (rank 1), which contributed"),
        ]
    }

    /// The fake rank 0: binds `endpoint`, prints `bound`, and answers every contribution with a
    /// result built from it (header copied, kind 2, rank 0) until 120 s pass without one, bent as `mode` says:
    /// `count_zero` — stage 1 with count 0, mean and M2 zero; `below_own` — stage 0 with half the
    /// count; `stages_differ` — stage 1 with twice the count; `without_me` — stage 0 listing rank 0 only.
    static func fakeLeader(endpoint: String, mode: String) -> String {
        """
        import struct, zmq
        MODE = '\(mode)'
        c = zmq.Context()
        r = c.socket(zmq.ROUTER); r.setsockopt(zmq.LINGER, 0); r.setsockopt(zmq.RCVTIMEO, 120000)
        r.bind('\(endpoint)')
        print('bound', flush=True)
        while True:
            try:
                route, frame = r.recv_multipart()
            except zmq.Again:
                break
            if frame[4] != 1:
                continue  # only contributions are answered (snapshot requests are not)
            end = 8 + frame[7] + 8 + 2 + 8 + 8
            (stage,) = struct.unpack_from('<H', frame, 8 + frame[7] + 8)
            body = bytearray(frame[end:])
            count, features, extremes = struct.unpack_from('<qIB', body, 0)
            members = [0, 1]
            if MODE == 'count_zero' and stage == 1:
                struct.pack_into('<q', body, 0, 0)
                body[13:13 + 16 * features] = bytes(16 * features)
            elif MODE == 'below_own' and stage == 0:
                struct.pack_into('<q', body, 0, count // 2)
            elif MODE == 'stages_differ' and stage == 1:
                struct.pack_into('<q', body, 0, count * 2)
            elif MODE == 'without_me' and stage == 0:
                members = [0]
            ranks = struct.pack('<H', len(members)) + struct.pack('<%dH' % len(members), *members)
            r.send_multipart([route, frame[:4] + bytes([2]) + struct.pack('<H', 0) + frame[7:end] + ranks + bytes(body)])
        """
    }

    @Test(arguments: Case.all) func aResultThatDisagreesWithThisMembersRowsIsRefused(_ hostile: Case) throws {
        let scratch = try ScratchDirectory()
        let endpoints = SyncGroupTests.endpoints(2)
        let leader = try Subprocess(
            "fake-leader", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: ["python3", "-c", Self.fakeLeader(endpoint: endpoints[0], mode: hostile.mode)], in: scratch.url)
        defer { leader.stop() }
        _ = try waitFor("the fake leader to bind", timeout: .seconds(30)) { leader.stdout.contains("bound") ? true : nil }
        let member = try DaemonProcess.started(
            config: SyncGroupTests.config(rank: 1, members: endpoints, batch: 8, timeout: "10s", admin: true), scratch: scratch, name: "member1")
        let consumer = try Consumer(endpoint: try member.outputEndpoint(of: "sensors"), expectRows: 8, in: scratch)
        try Producer(
            endpoint: try member.inputEndpoint(of: "sensors"),
            rowsFile: try TestRows.write(TestRows.make(8, features: SyncGroupTests.features, salt: 31), to: "rows.npy", in: scratch),
            messages: [MessageSpec(rows: 0..<8, seq: 0, producer: "p1")]
        ).run(in: scratch)
        let received = try consumer.messages()
        try #require(received.count == 1, "\(member.stderr)")

        var header: [String: Any] = [
            "dtype": "<f4", "shape": [8, SyncGroupTests.features], "pipeline": "sensors", "batch": 0,
            "stages": ["min_max", "batch_norm", "batch_norm"],
            "sources": [["producer": "p1", "seq": 0, "rows": [0, 8], "message_rows": [0, 8]]],
        ]
        var expected = SyncGroupTests.zeroSyncMetrics(members: 2)
        var series = try SyncGroupTests.syncMetrics(member)
        let stepSeconds = series.removeValue(forKey: "step_seconds_sum")
        if let stage = hostile.refusedStage, let reason = hostile.reason {
            header["mode"] = "infer"
            header["stats_version"] = 0
            header["downgraded"] = "rejoining sync group"
            expected["refusals_total{reason=\"malformed\"}"] = 1
            #expect(stepSeconds == 0)
            let refusals = member.logLines.filter { $0.message == "refused a sync result" }
            #expect(refusals.count == 1, "\(member.stderr)")
            let refusal = try #require(refusals.first)
            #expect(refusal.level == "error")
            #expect(
                refusal["from_rank"] == "0" && refusal["endpoint"] == endpoints[0] && refusal["step"] == "1"
                    && refusal["stage"] == "\(stage)" && refusal["reason"] == reason, "\(refusal)")
            let stale = try #require(member.logLines.first { $0.message == "sync member is stale; rejoining through a snapshot" })
            #expect(stale["reason"] == "rank 0's result for step 1 stage \(stage) was refused: \(reason)", "\(stale)")
        } else {
            header["mode"] = "train"
            header["stats_version"] = 1
            header["sync"] = ["step": 1, "members": [0, 1]]
            expected["steps_total"] = 1
            expected["step_seconds_count"] = 1
            #expect(stepSeconds.map { $0 > 0 } == true)
            #expect(!member.logLines.contains { $0.message == "refused a sync result" || $0.message?.hasPrefix("sync member is stale") == true })
        }
        #expect(received[0].header.map { NSDictionary(dictionary: $0) } == NSDictionary(dictionary: header), "\(received[0].header ?? [:])")
        #expect(series == expected)
        #expect(try member.terminate() == 0)
        let counts = try member.finalCounts(of: "sensors")
        #expect(counts["downgraded"] == (hostile.refusedStage == nil ? "0" : "1"), "\(counts)")
        // The statistics learned only from an accepted result: the checkpoint records step 1 after
        // it, and no step at all (no `sync_step`) after a refused one, where the old code trained.
        let checkpointed = try SyncRejoinTests.checkpointedStep(scratch)
        #expect(checkpointed == (hostile.refusedStage == nil ? 1 : nil), "\(String(describing: checkpointed))")
    }
}
