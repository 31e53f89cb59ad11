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
    static func config(rank: Int, members: [(endpoint: String, key: String)], identity: String, keys: ScratchDirectory) -> String {
        var pipeline = PipelineYAML(features: SyncGroupTests.features, batch: "{size: 8, min_rows: 2, max_latency: 10s}")
        pipeline.inputs = ["{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pull, bind: true, codec: tensor, curve: false}"]
        pipeline.output = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: push, bind: true, codec: tensor, curve: false}"
        pipeline.stages = SyncGroupTests.stages
        let entries = members.map { "{endpoint: \"\($0.endpoint)\", curve_server_key: \"\(keys.path("keys/\($0.key).key"))\"}" }
        pipeline.extra = ["sync: {group: fleet, rank: \(rank), members: [\(entries.joined(separator: ", "))], timeout: 2s}"]
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
    static func startPair(spareEndpoints: Int = 0) throws -> (ScratchDirectory, [String], [DaemonProcess], [ScratchDirectory]) {
        let keys = try ScratchDirectory()
        try makeKeys(in: keys)
        let endpoints = SyncGroupTests.endpoints(2 + spareEndpoints)
        let group = [(endpoints[0], "member0"), (endpoints[1], "member1")]
        let scratches = try (0..<2).map { _ in try ScratchDirectory() }
        let members = try (0..<2).map { rank in
            try DaemonProcess.started(
                config: config(rank: rank, members: group, identity: "member\(rank)", keys: keys), scratch: scratches[rank],
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
}
