import Foundation
import NormTesting
import Testing

/// Sync groups with `security: curve:` (Docs/SYNC.md, Docs/SECURITY.md): each member's ROUTER is a
/// CURVE server behind the daemon's ZAP allow-list and each `members` entry names that member's key
/// (`{endpoint, curve_server_key}`). Real daemons over ipc; keys made by pyzmq's
/// `zmq.auth.create_certificates`, as the other CURVE tests do.
@Suite(.serialized) struct SyncCurveTests {
    /// Certificates for member0, member1 and mallory in `scratch/keys`; `scratch/authorized` lists
    /// member0 and member1 only; secret files 0600.
    static func makeKeys(in scratch: ScratchDirectory) throws {
        _ = try PythonScript.run(
            """
            import os, shutil, zmq.auth
            os.makedirs('keys'); os.makedirs('authorized')
            for name in ['member0', 'member1', 'mallory']:
                zmq.auth.create_certificates('keys', name)
                os.chmod('keys/%s.key_secret' % name, 0o600)
            for name in ['member0', 'member1']:
                shutil.copy('keys/%s.key' % name, 'authorized/%s.key' % name)
            """, in: scratch.url)
    }

    /// A member of group `fleet` as `identity`, with `members` as `{endpoint, curve_server_key}`
    /// entries; data sockets on loopback opt out of CURVE (`curve: false`) so the plain pyzmq
    /// producer and consumer of the other sync tests can feed it.
    static func config(
        rank: Int, members: [(endpoint: String, key: String)], identity: String, keys: ScratchDirectory, timeout: String = "2s"
    ) -> String {
        var pipeline = PipelineYAML(features: SyncGroupTests.features, batch: "{size: 8, min_rows: 2, max_latency: 10s}")
        pipeline.inputs = ["{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pull, bind: true, codec: tensor, curve: false}"]
        pipeline.output = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: push, bind: true, codec: tensor, curve: false}"
        pipeline.stages = SyncGroupTests.stages
        let entries = members.map { "{endpoint: \"\($0.endpoint)\", curve_server_key: \"\(keys.path("keys/\($0.key).key"))\"}" }
        pipeline.extra = ["sync: {group: fleet, rank: \(rank), members: [\(entries.joined(separator: ", "))], timeout: \(timeout)}"]
        return """
            admin: {listen: "127.0.0.1:0"}
            checkpoint: {path: state, every_batches: 100000, every_seconds: 3600}
            security:
              curve:
                secret_key_file: \(keys.path("keys/\(identity).key_secret"))
                authorized_keys: \(keys.path("authorized"))

            """ + PipelineYAML.config(pipeline)
    }

    /// Feeds each member 8 rows (salted by `index` and rank) for one step and returns what each
    /// member's consumer got, by rank.
    static func step(_ index: Int, _ members: [DaemonProcess], _ scratches: [ScratchDirectory]) throws -> [[Consumer.Message]] {
        let rows = try members.indices.map { rank in
            try TestRows.write(
                TestRows.make(8, features: SyncGroupTests.features, salt: 10 * index + rank), to: "rows\(index).npy", in: scratches[rank])
        }
        let consumers = try members.indices.map { rank in
            try Consumer(
                endpoint: try members[rank].outputEndpoint(of: "sensors"), expectRows: 8, timeout: 30, in: scratches[rank],
                name: "c\(rank)-\(index)")
        }
        let producers = try members.indices.map { rank in
            try Producer(
                endpoint: try members[rank].inputEndpoint(of: "sensors"), rowsFile: rows[rank],
                messages: [MessageSpec(rows: 0..<8, seq: index, producer: "p\(rank)")]
            ).start(in: scratches[rank], name: "p\(rank)-\(index)")
        }
        for producer in producers { _ = try Producer.result(of: producer, messages: 1) }
        return try consumers.map { try $0.messages() }
    }

    /// Keys (`makeKeys`) and members 0 and 1 of group `fleet` over CURVE, each with its own scratch;
    /// `endpoints` has `spareEndpoints` more for other daemons.
    static func startPair(spareEndpoints: Int = 0, timeout: String = "2s") throws -> (ScratchDirectory, [String], [DaemonProcess], [ScratchDirectory])
    {
        let keys = try ScratchDirectory()
        try makeKeys(in: keys)
        let endpoints = SyncGroupTests.endpoints(2 + spareEndpoints)
        let group = [(endpoints[0], "member0"), (endpoints[1], "member1")]
        let scratches = try (0..<2).map { _ in try ScratchDirectory() }
        let members = try (0..<2).map { rank in
            try DaemonProcess.started(
                config: config(rank: rank, members: group, identity: "member\(rank)", keys: keys, timeout: timeout), scratch: scratches[rank],
                name: "member\(rank)")
        }
        return (keys, endpoints, members, scratches)
    }

    /// Two authorized members step together over CURVE; a third daemon whose key is not in
    /// `authorized_keys` connects to rank 0's ROUTER as a would-be rank 1: refused at the handshake,
    /// logged and counted (`auth_failures`, `normd_auth_failures_total{reason="unknown_key"}`), and
    /// the next step is still merged by ranks 0 and 1 only.
    @Test func membersStepOverCurveAndAnUnauthorizedMemberIsRefusedAndCounted() throws {
        let (keys, endpoints, members, scratches) = try Self.startPair(spareEndpoints: 1)
        for rank in 0..<2 {
            let bound = try #require(members[rank].logLines.first { $0.message == "sync member bound" })
            #expect(bound["curve"] == "true")
        }
        func step(_ index: Int) throws -> [Consumer.Message] { try Self.step(index, members, scratches).flatMap { $0 } }
        for message in try step(0) {
            #expect(SyncRejoinTests.sync(message).step == 1 && SyncRejoinTests.sync(message).members == [0, 1] && message.mode == "train")
        }

        let intruderScratch = try ScratchDirectory()
        let intruder = try DaemonProcess.started(
            config: Self.config(rank: 1, members: [(endpoints[0], "member0"), (endpoints[2], "mallory")], identity: "mallory", keys: keys),
            scratch: intruderScratch, name: "mallory")
        let refused = try members[0].waitForLine("refusal") { $0.message?.hasPrefix("connection refused: client key ") == true }
        #expect(refused.message?.hasSuffix(" is not in authorized_keys") == true)
        let counted = try members[0].waitForCounts(of: "sensors", "auth_failures") { ($0["auth_failures"] ?? "").hasPrefix("{unknown_key: ") }
        let refusals = try #require(Int((counted["auth_failures"] ?? "").dropFirst("{unknown_key: ".count).dropLast()))
        #expect(refusals >= 1)
        #expect(try intruder.terminate() == 0)
        #expect(!members[0].logLines.contains { $0.message == "refused a member joining the sync group" }, "nothing got past CURVE")

        for message in try step(1) {
            #expect(SyncRejoinTests.sync(message).step == 2 && SyncRejoinTests.sync(message).members == [0, 1] && message.mode == "train")
        }
        let metrics = try AdminHTTP(members[0]).metrics()
        #expect((metrics["normd_auth_failures_total{pipeline=\"sensors\",reason=\"unknown_key\"}"] ?? 0) >= Double(refusals))
        #expect(try SyncGroupTests.syncMetrics(members[0])["steps_total"] == 2)
        for member in members { #expect(try member.terminate() == 0) }
        #expect(
            SyncGroupTests.statistics(try SyncGroupTests.exported(scratches[0]))
                == SyncGroupTests.statistics(try SyncGroupTests.exported(scratches[1])))
    }

    /// Revocation inside an open connection: rank 1's key is removed from `authorized_keys` and
    /// rank 0 (the leader) re-reads it (SIGHUP). Rank 1's DEALER connection was admitted before, so
    /// only a per-message User-Id check can refuse it: its next contribution is refused, counted as
    /// `auth_failures{revoked_key}` and answered, the leader merges step 2 alone, and rank 1 runs
    /// its batch downgraded instead of merging on its own.
    @Test func aMemberWhoseKeyIsRevokedIsRefusedOnItsOpenConnection() throws {
        let (keys, _, members, scratches) = try Self.startPair()
        for message in try Self.step(0, members, scratches).flatMap({ $0 }) {
            #expect(SyncRejoinTests.sync(message).step == 1 && SyncRejoinTests.sync(message).members == [0, 1] && message.mode == "train")
        }

        try FileManager.default.removeItem(at: keys.url.appendingPathComponent("authorized/member1.key"))
        members[0].send(SIGHUP) // only rank 0 re-reads: rank 1 still trusts rank 0
        _ = try members[0].waitForLine("'authorized_keys re-read'") { $0.message == "authorized_keys re-read" && $0["removed"] == "1" }

        let second = try Self.step(1, members, scratches)
        #expect(second[0].count == 1 && second[1].count == 1)
        for message in second[0] {
            #expect(SyncRejoinTests.sync(message).step == 2 && SyncRejoinTests.sync(message).members == [0] && message.mode == "train")
        }
        for message in second[1] {
            #expect(message.mode == "infer" && message.header?["downgraded"] as? String == "rejoining sync group")
        }
        let refusal = try #require(members[0].logLines.first { $0.message == "refused a sync message from a revoked key" })
        #expect(refusal["from_rank"] == "1" && refusal["reason"] == "revoked_key")
        let told = try #require(members[1].logLines.first { $0.message == "sync group refused this member" })
        #expect(told["reason"]?.hasSuffix(" is no longer in authorized_keys") == true, "\(told)")
        #expect(!members[0].logLines.contains { $0.message == "sync step completed without absent members" && $0["present"] == "[0, 1]" })

        for member in members { #expect(try member.terminate() == 0) }
        // Every refused message is one line and one count (rank 1 keeps asking for a snapshot).
        let refused = members[0].logLines.filter { $0.message == "refused a sync message from a revoked key" }.count
        #expect(refused >= 1)
        #expect(try members[0].finalCounts(of: "sensors")["auth_failures"] == "{revoked_key: \(refused)}")
        #expect(try members[1].finalCounts(of: "sensors")["auth_failures"] == "0")
    }

    /// Feeds rank `rank` alone its 8 rows of step `index` (the rows `step` would send) and returns
    /// the consumer that reads its batch.
    static func feed(_ index: Int, rank: Int, _ members: [DaemonProcess], _ scratches: [ScratchDirectory]) throws -> Consumer {
        let rows = try TestRows.write(
            TestRows.make(8, features: SyncGroupTests.features, salt: 10 * index + rank), to: "rows\(index).npy", in: scratches[rank])
        let consumer = try Consumer(
            endpoint: try members[rank].outputEndpoint(of: "sensors"), expectRows: 8, timeout: 60, in: scratches[rank], name: "c\(rank)-\(index)")
        try Producer(
            endpoint: try members[rank].inputEndpoint(of: "sensors"), rowsFile: rows,
            messages: [MessageSpec(rows: 0..<8, seq: index, producer: "p\(rank)")]
        ).run(in: scratches[rank], name: "p\(rank)-\(index)")
        return consumer
    }

    /// Revocation on the DEALER side: rank 1 removes its *leader's* key (rank 0's) and re-reads
    /// `authorized_keys` while it waits inside a step for rank 0's result. The result then arrives on
    /// a connection admitted before: rank 1 drops it (counted `auth_failures{revoked_key}`, logged
    /// `dropped a sync message from a revoked member`) and must not train from anything of that
    /// step — it goes stale and publishes the batch downgraded (`rejoining sync group`). Before, it
    /// took over as leader in the middle of the step and trained from its own rows alone. Rank 0
    /// still trusts rank 1 and merged its rows. At the next step rank 1 trusts no other member: it
    /// is a group of one (logged), as when every other member is gone.
    @Test func aLeaderRevokedWhileAMemberWaitsForItsResultIsDroppedAndTheStepDowngraded() throws {
        let (keys, _, members, scratches) = try Self.startPair(timeout: "25s")
        for message in try Self.step(0, members, scratches).flatMap({ $0 }) {
            #expect(SyncRejoinTests.sync(message).step == 1 && SyncRejoinTests.sync(message).members == [0, 1] && message.mode == "train")
        }
        // Rank 1 contributes to step 2 and waits; rank 0, idle, waits (up to 25 s) for its own batch.
        let waiting = try Self.feed(1, rank: 1, members, scratches)
        // Rank 1 has read the rows (counted before its thread accepts them, forms the batch and
        // contributes); 11 s later it is certainly waiting inside the step, past the 10 s after which
        // /healthz calls a thread that does not turn stuck. Waiting for its group within `timeout`
        // is progress: it must still answer 200 (before, it answered 503 and an orchestrator's
        // liveness probe would have restarted a member for waiting out a long `timeout`).
        let http = try AdminHTTP(members[1])
        let read = try http.metrics { $0[#"normd_rows_received_total{pipeline="sensors",input="0"}"#] == 16 }
        #expect(read[#"normd_rows_received_total{pipeline="sensors",input="0"}"#] == 16)
        Thread.sleep(forTimeInterval: 11)
        let health = try http.get("/healthz")
        #expect(health.status == 200, "\(health.body)")
        try FileManager.default.removeItem(at: keys.url.appendingPathComponent("authorized/member0.key"))
        members[1].send(SIGHUP) // only rank 1 re-reads: rank 0 still trusts rank 1
        _ = try members[1].waitForLine("'authorized_keys re-read'") { $0.message == "authorized_keys re-read" && $0["removed"] == "1" }

        // Rank 0 merges stage 0 with both and then waits `timeout` for rank 1's stage 1 in vain.
        let leaderOutput = try Self.feed(1, rank: 0, members, scratches).messages(timeout: .seconds(60))
        #expect(leaderOutput.count == 1)
        for message in leaderOutput {
            #expect(SyncRejoinTests.sync(message).step == 2 && SyncRejoinTests.sync(message).members == [0, 1] && message.mode == "train")
        }
        let flagged = try waiting.messages()
        #expect(flagged.count == 1)
        for message in flagged {
            #expect(message.mode == "infer" && message.header?["downgraded"] as? String == "rejoining sync group")
            #expect(message.header?["sync"] == nil)
        }
        let dropped = members[1].logLines.filter { $0.message == "dropped a sync message from a revoked member" }
        #expect(dropped.count == 1 && dropped.first?["from_rank"] == "0" && dropped.first?["reason"] == "revoked_key", "\(members[1].stderr)")
        let stale = try #require(members[1].logLines.first { $0.message == "sync member is stale; rejoining through a snapshot" })
        #expect(
            stale["reason"]
                == "the key of rank 0, this step's leader, was removed from authorized_keys before its result of step 2 stage 0 was accepted")

        // Next batch: no trusted member to rejoin from, so rank 1 steps as a group of one.
        let alone = try Self.feed(2, rank: 1, members, scratches).messages()
        #expect(alone.count == 1)
        for message in alone {
            #expect(SyncRejoinTests.sync(message).step == 2 && SyncRejoinTests.sync(message).members == [1] && message.mode == "train")
        }
        let groupOfOne = members[1].logLines.filter { $0.message == "no trusted sync member to rejoin from; continuing as a group of one" }
        #expect(groupOfOne.count == 1 && groupOfOne.first?["revoked"] == "[0]", "\(members[1].stderr)")

        var series = try SyncGroupTests.syncMetrics(members[1])
        #expect(series.removeValue(forKey: "step_seconds_sum").map { $0 > 0 } == true)
        var expected = SyncGroupTests.zeroSyncMetrics(members: 2)
        expected["steps_total"] = 2
        expected["step_seconds_count"] = 2
        expected["absences_total{rank=\"0\"}"] = 1 // rank 0 took part in the step before and not in rank 1's own
        #expect(series == expected)
        #expect(try AdminHTTP(members[1]).metrics()["normd_auth_failures_total{pipeline=\"sensors\",reason=\"revoked_key\"}"] == 1)
        for member in members { #expect(try member.terminate() == 0) }
        #expect(try members[1].finalCounts(of: "sensors")["auth_failures"] == "{revoked_key: 1}")
        #expect(try members[0].finalCounts(of: "sensors")["auth_failures"] == "0")
    }
}
