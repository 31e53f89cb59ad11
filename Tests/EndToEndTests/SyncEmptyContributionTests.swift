import Foundation
import NormTesting
import Testing

/// An empty contribution end to end (issue 12 §1, Docs/SYNC.md: "An empty contribution (count 0)
/// is allowed and changes nothing"). A normd member never forms an empty train batch (the batcher
/// flushes rows, never nothing; a member with no rows for a step simply does not contribute and is
/// counted absent — `SyncRejoinTests`), so the count-0 contribution comes from a peer speaking the
/// wire protocol itself: a pyzmq DEALER as rank 1, as a trainer-side client could. The leader must
/// merge it as the identity: its rows and statistics equal those of a group of one fed the same rows.
@Suite(.serialized) struct SyncEmptyContributionTests {
    /// Rank 1's side in Python: for each stage of step 1, a count-0 contribution (mean and M2 zero,
    /// extremes ±inf for `min_max`), then the leader's result; prints every result's kind, members and count.
    static func emptyMember(leader: String, fingerprint: String) -> String {
        """
        import json, struct, zmq
        SEED = 0xCBF29CE484222325
        FP = int('\(fingerprint)', 16)
        def header(kind, stage):
            return b'NSY1' + struct.pack('<BH', kind, 1) + bytes([5]) + b'fleet' + struct.pack('<QHQQ', 1, stage, SEED, FP)
        c = zmq.Context()
        d = c.socket(zmq.DEALER); d.setsockopt(zmq.LINGER, 0); d.setsockopt(zmq.RCVTIMEO, 30000)
        d.connect('\(leader)')
        results = []
        for stage, extremes in enumerate([True, False, False]):
            body = struct.pack('<qIB', 0, \(SyncGroupTests.features), 1 if extremes else 0) + b'\\0' * (16 * \(SyncGroupTests.features))
            if extremes:
                body += struct.pack('<4d', *[float('inf')] * 4) + struct.pack('<4d', *[float('-inf')] * 4)
            d.send(header(1, stage) + body)
            reply = d.recv()
            kind = reply[4]
            offset = 4 + 1 + 2 + 1 + reply[7] + 8 + 2 + 8 + 8
            entry = {'kind': kind, 'stage': struct.unpack_from('<H', reply, offset - 18)[0]}
            if kind == 2:
                (n,) = struct.unpack_from('<H', reply, offset)
                entry['members'] = list(struct.unpack_from('<%dH' % n, reply, offset + 2))
                (entry['count'],) = struct.unpack_from('<q', reply, offset + 2 + 2 * n)
            results.append(entry)
            if kind != 2: break
        print(json.dumps(results), flush=True)
        """
    }

    @Test func aCountZeroContributionIsMergedAsTheIdentity() throws {
        let rows = TestRows.make(8, features: SyncGroupTests.features, salt: 77)
        // The reference: a group of one fed the same 8 rows.
        let referenceScratch = try ScratchDirectory()
        let reference = try DaemonProcess.started(
            config: SyncGroupTests.config(rank: 0, members: SyncGroupTests.endpoints(1), batch: 8), scratch: referenceScratch, name: "reference")
        let referenceConsumer = try Consumer(endpoint: try reference.outputEndpoint(of: "sensors"), expectRows: 8, in: referenceScratch)
        try Producer(
            endpoint: try reference.inputEndpoint(of: "sensors"), rowsFile: try TestRows.write(rows, to: "rows.npy", in: referenceScratch),
            messages: [MessageSpec(rows: 0..<8, seq: 0, producer: "all")]
        ).run(in: referenceScratch)

        let scratch = try ScratchDirectory()
        let endpoints = SyncGroupTests.endpoints(2)
        let leader = try DaemonProcess.started(
            config: SyncGroupTests.config(rank: 0, members: endpoints, batch: 8, timeout: "10s"), scratch: scratch, name: "leader")
        let bound = try #require(leader.logLines.first { $0.message == "sync member bound" })
        let fingerprint = try #require(bound["fingerprint"])
        let empty = try Subprocess(
            "empty-member", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: ["python3", "-c", Self.emptyMember(leader: endpoints[0], fingerprint: fingerprint)], in: scratch.url)
        let consumer = try Consumer(endpoint: try leader.outputEndpoint(of: "sensors"), expectRows: 8, in: scratch)
        try Producer(
            endpoint: try leader.inputEndpoint(of: "sensors"), rowsFile: try TestRows.write(rows, to: "rows.npy", in: scratch),
            messages: [MessageSpec(rows: 0..<8, seq: 0, producer: "m0")]
        ).run(in: scratch)
        #expect(try empty.waitForExit(timeout: .seconds(60)) == 0, "\(empty.stderr)")
        let results = try #require(
            try JSONSerialization.jsonObject(with: Data((empty.stdout.split(separator: "\n").last ?? "").utf8)) as? [[String: Any]],
            "\(empty.stdout) \(empty.stderr)")
        #expect(results.count == 3, "\(results)")
        for (stage, result) in results.enumerated() {
            #expect(result["kind"] as? Int == 2 && result["stage"] as? Int == stage, "\(result)")
            #expect(result["members"] as? [Int] == [0, 1] && result["count"] as? Int == 8, "the empty member adds no row: \(result)")
        }

        let expected = try referenceConsumer.messages()
        let received = try consumer.messages()
        #expect(expected.count == 1 && received.count == 1)
        let message = try #require(received.first)
        #expect(message.mode == "train" && message.header?["downgraded"] == nil)
        #expect(SyncRejoinTests.sync(message).step == 1 && SyncRejoinTests.sync(message).members == [0, 1])
        #expect(message.data == expected.first?.data, "a count-0 contribution changes nothing")
        #expect(!leader.logLines.contains { $0.message == "sync step completed without absent members" }, "\(leader.stderr)")
        #expect(try leader.terminate() == 0)
        #expect(try reference.terminate() == 0)
        #expect(
            SyncGroupTests.statistics(try SyncGroupTests.exported(scratch))
                == SyncGroupTests.statistics(try SyncGroupTests.exported(referenceScratch)))
        #expect(try leader.finalCounts(of: "sensors")["rows_accepted"] == "8")
    }
}
