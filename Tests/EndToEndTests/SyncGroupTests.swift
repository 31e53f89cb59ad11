import Foundation
import NormTesting
import Testing

/// Sync groups (`sync:`, Docs/SYNC.md) with real daemons on loopback (ipc), fed by pyzmq producers
/// and read by pyzmq consumers: equivalence with one daemon fed the concatenated batches, a member
/// killed mid-stream, a member with another chain refused.
@Suite(.serialized) struct SyncGroupTests {
    static let features = 4
    /// min_max needs extremes, both batch-norm conventions need the merged moments; each stage's
    /// input depends on the previous stage's merged normalization.
    static let stages = [
        "{type: min_max, feature_range: [-1, 1]}", "{type: batch_norm, convention: torch, momentum: 0.2}",
        "{type: batch_norm, momentum: 0.8}",
    ]

    /// Members' endpoints: ipc paths short enough for sockaddr_un and unique per test.
    static func endpoints(_ count: Int) -> [String] {
        let tag = UUID().uuidString.prefix(8)
        return (0..<count).map { "ipc:///tmp/normd-sync-\(tag)-\($0)" }
    }

    /// `admin`: serve `/metrics` on a free loopback port (logged as `admin listening`).
    static func config(rank: Int, members: [String], batch: Int, timeout: String = "2s", stages: [String] = stages, admin: Bool = false) -> String {
        var pipeline = PipelineYAML(features: features, batch: "{size: \(batch), min_rows: 2, max_latency: 10s}")
        pipeline.stages = stages
        pipeline.extra = [
            "sync: {group: fleet, rank: \(rank), members: [\(members.map { "\"\($0)\"" }.joined(separator: ", "))], timeout: \(timeout)}"
        ]
        return (admin ? "admin: {listen: \"127.0.0.1:0\"}\n" : "") + "checkpoint: {path: state, every_batches: 100000, every_seconds: 3600}\n"
            + PipelineYAML.config(pipeline)
    }

    /// The flat JSON export of the newest checkpoint in `scratch/state`.
    static func exported(_ scratch: ScratchDirectory) throws -> [String: Any] {
        let out = scratch.path("export-\(UUID().uuidString).json")
        let result = try Normd.run(["state", "export", scratch.path("state"), "--format", "json", "--output", out])
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
    }

    /// The `normd_sync_*` series of a real scrape of `daemon`'s `/metrics`, for pipeline `sensors`,
    /// without the `pipeline` label (`steps_total`, `absences_total{rank="1"}`, `step_seconds_count` …).
    static func syncMetrics(_ daemon: DaemonProcess) throws -> [String: Double] {
        var series: [String: Double] = [:]
        for (name, value) in try AdminHTTP(daemon).metrics() where name.hasPrefix("normd_sync_") && !name.contains("_bucket{") {
            let short = name.dropFirst("normd_sync_".count).replacingOccurrences(of: "pipeline=\"sensors\",", with: "")
                .replacingOccurrences(of: "{pipeline=\"sensors\"}", with: "")
            series[short] = value
        }
        return series
    }

    /// The series every sync member exports from its start, all 0, for a group of `members`
    /// (`step_seconds_sum` aside: a duration, checked on its own).
    static func zeroSyncMetrics(members: Int) -> [String: Double] {
        var series: [String: Double] = [
            "steps_total": 0, "stale_dropped_total": 0, "failovers_total": 0, "rejoins_total": 0, "step_seconds_count": 0,
        ]
        for rank in 0..<members { series["absences_total{rank=\"\(rank)\"}"] = 0 }
        for reason in ["other_group", "other_chain", "malformed", "undecodable", "refused_by_peer"] {
            series["refusals_total{reason=\"\(reason)\"}"] = 0
        }
        return series
    }

    /// Every numeric array of an export, by name.
    static func statistics(_ export: [String: Any]) -> [String: [Double]] {
        var result: [String: [Double]] = [:]
        func walk(_ value: Any, _ path: String) {
            if let numbers = value as? [NSNumber] {
                result[path] = numbers.map(\.doubleValue)
            } else if let number = value as? NSNumber {
                result[path] = [number.doubleValue]
            } else if let map = value as? [String: Any] {
                for (key, inner) in map { walk(inner, path + "/" + key) }
            } else if let list = value as? [Any] {
                for (index, inner) in list.enumerated() { walk(inner, path + "/\(index)") }
            }
        }
        walk(export, "")
        return result
    }

    /// Largest `|a − b| / max(|a|, |b|, floor)` over every statistic both exports hold.
    static func largestRelativeDifference(_ a: [String: [Double]], _ b: [String: [Double]], floor: Double = 1e-300) -> Double {
        #expect(Set(a.keys) == Set(b.keys))
        var worst = 0.0
        for (name, values) in a {
            let other = b[name] ?? []
            #expect(values.count == other.count, "\(name)")
            for (u, v) in zip(values, other) where u != v { worst = max(worst, abs(u - v) / max(abs(u), abs(v), floor)) }
        }
        return worst
    }

    /// Runs `sizes.count` members (rank r gets `sizes[r]` rows per step) and a one-member group
    /// fed the concatenation (rank 0's rows first) for `steps` steps; checks outputs, headers and states.
    ///
    /// `firstStageKeys` name the statistics of stage 0, which learns from the rows themselves (1e-9
    /// relative); the later stages learn from Float32 outputs (see the tolerances below).
    func expectGroupEqualsConcatenation(
        sizes: [Int], steps: Int, stages: [String] = Self.stages,
        firstStageKeys: [String] = ["data_min", "data_max", "data_range", "scale", "min", "n_samples_seen"]
    ) throws {
        let members = Self.endpoints(sizes.count)
        let total = sizes.reduce(0, +)
        let shards = sizes.enumerated().map { rank, size in TestRows.make(size * steps, features: Self.features, salt: 1000 * rank) }
        var concatenated: [[Float]] = []
        for step in 0..<steps {
            for (rank, size) in sizes.enumerated() { concatenated += shards[rank][(step * size)..<((step + 1) * size)] }
        }
        let referenceScratch = try ScratchDirectory()
        let reference = try DaemonProcess.started(
            config: Self.config(rank: 0, members: Self.endpoints(1), batch: total, stages: stages), scratch: referenceScratch, name: "reference")
        let referenceRows = try TestRows.write(concatenated, to: "rows.npy", in: referenceScratch)
        let referenceConsumer = try Consumer(endpoint: try reference.outputEndpoint(of: "sensors"), expectRows: total * steps, in: referenceScratch)
        try Producer(
            endpoint: try reference.inputEndpoint(of: "sensors"), rowsFile: referenceRows,
            messages: MessageSpec.tensors(sizes: Array(repeating: total, count: steps), producer: "all")
        ).run(in: referenceScratch)

        var scratches: [ScratchDirectory] = [], daemons: [DaemonProcess] = [], consumers: [Consumer] = [], producers: [Subprocess] = []
        for (rank, size) in sizes.enumerated() {
            let scratch = try ScratchDirectory()
            let daemon = try DaemonProcess.started(
                config: Self.config(rank: rank, members: members, batch: size, timeout: "10s", stages: stages),
                scratch: scratch, name: "member\(rank)")
            scratches.append(scratch)
            daemons.append(daemon)
            consumers.append(try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: size * steps, in: scratch))
        }
        for (rank, size) in sizes.enumerated() {
            let rows = try TestRows.write(shards[rank], to: "rows.npy", in: scratches[rank])
            producers.append(
                try Producer(
                    endpoint: try daemons[rank].inputEndpoint(of: "sensors"), rowsFile: rows,
                    messages: MessageSpec.tensors(sizes: Array(repeating: size, count: steps), producer: "m\(rank)")
                )
                .start(in: scratches[rank]))
        }
        let expected = try referenceConsumer.messages()
        let received = try consumers.map { try $0.messages() }
        for producer in producers { _ = try Producer.result(of: producer, messages: steps) }
        #expect(try reference.terminate() == 0)
        for daemon in daemons { #expect(try daemon.terminate() == 0) }

        #expect(expected.count == steps)
        var offset = 0
        for (rank, size) in sizes.enumerated() {
            #expect(received[rank].count == steps)
            for (step, message) in received[rank].enumerated() where step < expected.count {
                #expect(message.mode == "train" && message.header?["downgraded"] == nil)
                let sync = message.header?["sync"] as? [String: Any]
                #expect(sync?["step"] as? Int == step + 1 && sync?["members"] as? [Int] == Array(sizes.indices), "\(String(describing: sync))")
                let slice = Array(expected[step].data[offset..<(offset + size)])
                let worst = zip(message.data.joined(), slice.joined()).reduce(0.0) { max($0, abs($1.0 - $1.1)) }
                #expect(worst < 1e-5, "rank \(rank) step \(step): outputs differ by \(worst)")
            }
            offset += size
        }
        // Every checkpoint records the step its statistics are at.
        for scratch in scratches + [referenceScratch] {
            let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path("state")).filter { $0.hasPrefix("normd-state-") }.sorted()
            let document =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch.path("state/" + files.last!)))) as? [String: Any]
            let pipeline = ((document?["body"] as? [String: Any])?["pipelines"] as? [[String: Any]])?.first
            #expect(pipeline?["sync_step"] as? Int == steps)
        }
        let referenceState = Self.statistics(try Self.exported(referenceScratch))
        let memberStates = try scratches.map { Self.statistics(try Self.exported($0)) }
        for state in memberStates.dropFirst() { #expect(state == memberStates[0], "members' statistics must be identical") }
        // Stage 0 (min_max) learns from the rows themselves: 1e-9 relative. The batch norms after it
        // learn from Float32 outputs, where one rounding flip between merged-of-shards and whole-batch
        // coefficients moves a Float64 statistic by ~1e-9..1e-8 (measured 3.2e-9 with unequal sizes),
        // and their means of normalized data sit near 0: 1e-7 of max(1, |value|).
        let firstStage = { (state: [String: [Double]]) in
            state.filter { key, _ in key.contains("/0_") && firstStageKeys.contains(where: { key.hasSuffix("/" + $0) }) }
        }
        #expect(firstStage(referenceState).count == firstStageKeys.count, "\(referenceState.keys.sorted())")
        #expect(Self.largestRelativeDifference(firstStage(memberStates[0]), firstStage(referenceState)) < 1e-9)
        #expect(Self.largestRelativeDifference(memberStates[0], referenceState, floor: 1) < 1e-7)
    }

    @Test func threeMembersWithEqualBatchesEqualOneDaemonFedTheConcatenation() throws {
        try expectGroupEqualsConcatenation(sizes: [16, 16, 16], steps: 5)
    }

    @Test func unequalBatchSizesAreWeightedByTheirCounts() throws {
        try expectGroupEqualsConcatenation(sizes: [8, 16, 32], steps: 4)
    }

    /// The stage kinds the tests above leave out: `standard_scale` (Chan's merge of its running
    /// moments with the step's) first, learning from the rows, then `batch_renorm` (`r` and `d` from
    /// the merged batch moments, clipped), with unequal batch sizes.
    @Test func standardScaleAndBatchRenormGroupsEqualOneDaemonFedTheConcatenation() throws {
        try expectGroupEqualsConcatenation(
            sizes: [8, 16, 24], steps: 4,
            stages: [
                "{type: standard_scale}",
                "{type: batch_renorm, momentum: 0.8, renorm_momentum: 0.7, renorm_clipping: {rmax: 1.5, rmin: 0.6667, dmax: 0.5}}",
            ],
            firstStageKeys: ["mean", "var", "scale", "n_samples_seen"])
    }

    /// Kill -9 one member (the leader, rank 0) after two steps: the other two finish every later
    /// step within the timeout plus a margin, with rank 0 counted absent and left out of the header.
    @Test func killingTheLeaderDoesNotHangTheOthers() throws {
        let members = Self.endpoints(3)
        let size = 8, before = 2, after = 3
        var scratches: [ScratchDirectory] = [], daemons: [DaemonProcess] = []
        for rank in 0..<3 {
            let scratch = try ScratchDirectory()
            scratches.append(scratch)
            daemons.append(
                try DaemonProcess.started(
                    config: Self.config(rank: rank, members: members, batch: size, timeout: "1s", admin: true),
                    scratch: scratch, name: "member\(rank)"))
        }
        let rows = (0..<3).map { TestRows.make(size * (before + after), features: Self.features, salt: 100 * $0) }
        let files = try (0..<3).map { try TestRows.write(rows[$0], to: "rows.npy", in: scratches[$0]) }
        let consumers = try (0..<3).map {
            try Consumer(
                endpoint: try daemons[$0].outputEndpoint(of: "sensors"), expectRows: size * ($0 == 0 ? before : before + after),
                timeout: 40, in: scratches[$0])
        }
        let first = try (0..<3).map {
            try Producer(
                endpoint: try daemons[$0].inputEndpoint(of: "sensors"), rowsFile: files[$0],
                messages: MessageSpec.tensors(sizes: Array(repeating: size, count: before), producer: "p\($0)")
            ).start(in: scratches[$0])
        }
        for producer in first { _ = try Producer.result(of: producer, messages: before) }
        let leaderOutput = try consumers[0].messages()
        #expect(leaderOutput.count == before)
        daemons[0].send(SIGKILL)
        _ = try daemons[0].waitForExit()

        let started = ContinuousClock.now
        let rest = try (1..<3).map {
            try Producer(
                endpoint: try daemons[$0].inputEndpoint(of: "sensors"), rowsFile: files[$0],
                messages: MessageSpec.tensors(sizes: Array(repeating: size, count: after), producer: "p\($0)", from: size * before)
            )
            .start(in: scratches[$0])
        }
        for producer in rest { _ = try Producer.result(of: producer, messages: after) }
        let survivors = try (1..<3).map { try consumers[$0].messages(timeout: .seconds(40)) }
        let elapsed = ContinuousClock.now - started
        // One failover (timeout + margin, then the new leader's own timeout at most), then full speed.
        #expect(elapsed < .seconds(15), "the survivors took \(elapsed)")
        for output in survivors {
            #expect(output.count == before + after)
            let steps = output.map { ($0.header?["sync"] as? [String: Any])?["step"] as? Int }
            #expect(steps == (1...(before + after)).map { $0 })
            #expect(output.prefix(before).allSatisfy { ($0.header?["sync"] as? [String: Any])?["members"] as? [Int] == [0, 1, 2] })
            #expect(output.suffix(after).allSatisfy { ($0.header?["sync"] as? [String: Any])?["members"] as? [Int] == [1, 2] })
            #expect(output.allSatisfy { $0.mode == "train" })
        }
        let absent = daemons[1].logLines.filter { $0.message == "sync step completed without absent members" }
        #expect(absent.count == 1 && absent.first?["absent"] == "[0]", "\(daemons[1].stderr)")
        // On /metrics: both trained in all five steps; rank 1, leading from step 3, counted rank 0
        // absent once; rank 2 waited for rank 0 in vain once. Rank 1 failed over too, unless rank 2's
        // contribution reached it first and made it leader (then it never waited for rank 0).
        let series = try (1..<3).map { try Self.syncMetrics(daemons[$0]) }
        #expect(series.map { $0["steps_total"] } == [5, 5])
        #expect(series.map { $0["absences_total{rank=\"0\"}"] } == [1, 0])
        #expect(series[1]["failovers_total"] == 1)
        #expect([0, 1].contains(series[0]["failovers_total"]), "\(series[0])")
        for rank in 1..<3 { #expect(try daemons[rank].terminate() == 0) }
        #expect(Self.statistics(try Self.exported(scratches[1])) == Self.statistics(try Self.exported(scratches[2])))
    }

    /// A run-time plugin stage cannot train from merged moments (the C ABI exposes none): `normd run`
    /// refuses the configuration before binding anything, with the located message `validate` gives
    /// and exit 78 (EX_CONFIG).
    @Test func aRunTimePluginStageInASyncPipelineIsRefused() throws {
        try BuildProducts.require(BuildProducts.robustScale)
        let scratch = try ScratchDirectory()
        let members = Self.endpoints(2)
        let config =
            "plugins: [\"\(BuildProducts.robustScale)\"]\n"
            + Self.config(rank: 0, members: members, batch: 8, stages: ["{type: min_max}", "{type: robust_scale}"])
        try scratch.write(config, to: "cfg.yaml")
        // Located at the stage's `type:` value: line and column (1-based) of `robust_scale` in the file.
        let lines = config.split(separator: "\n", omittingEmptySubsequences: false)
        let index = try #require(lines.firstIndex { $0.contains("{type: robust_scale}") })
        let column = try #require(lines[index].firstRange(of: "robust_scale")).lowerBound.utf16Offset(in: lines[index]) + 1
        let message =
            "cfg.yaml:\(index + 1):\(column): pipelines[0].stages[1].type: 'robust_scale' cannot take part in sync: "
            + "a run-time plugin stage exposes no batch moments through the stage ABI"
        let run = try Normd.run(["run", "--config", "cfg.yaml"], in: scratch)
        #expect(run.status == 78)
        #expect(run.stderrLines == [message])
        #expect(run.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: String(members[0].dropFirst("ipc://".count))), "nothing is bound")
        let validate = try Normd.run(["validate", "--config", "cfg.yaml"], in: scratch)
        #expect(validate.status == 78)
        #expect(validate.stderrLines == [message, "cfg.yaml: 1 error"])
    }

    /// A member whose chain differs is refused, with a log line on both sides, and never trains.
    @Test func aMemberWithAnotherChainIsRefused() throws {
        let members = Self.endpoints(2)
        let scratches = try (0..<2).map { _ in try ScratchDirectory() }
        let leader = try DaemonProcess.started(
            config: Self.config(rank: 0, members: members, batch: 8, timeout: "1s", admin: true),
            scratch: scratches[0], name: "member0")
        var other = Self.stages
        other[2] = "{type: standard_scale}"
        let stranger = try DaemonProcess.started(
            config: Self.config(rank: 1, members: members, batch: 8, timeout: "1s", stages: other, admin: true),
            scratch: scratches[1], name: "member1")
        let refused = try leader.waitForLine("refusal") { $0.message == "refused a member joining the sync group" }
        #expect(refused["from_rank"] == "1")
        #expect(refused["reason"]?.hasPrefix("chain fingerprint ") == true)
        let told = try stranger.waitForLine("refused") { $0.message == "sync group refused this member" }
        #expect(told["from_rank"] == "0")
        // Each side asked the other for a snapshot at start (the leader's request waited in its
        // DEALER's queue until the stranger bound): each refused one and was refused once, on /metrics too.
        _ = try stranger.waitForLine("its refusal") { $0.message == "refused a member joining the sync group" }
        _ = try leader.waitForLine("refused") { $0.message == "sync group refused this member" }
        var expected = Self.zeroSyncMetrics(members: 2)
        expected["refusals_total{reason=\"other_chain\"}"] = 1
        expected["refusals_total{reason=\"refused_by_peer\"}"] = 1
        expected["step_seconds_sum"] = 0
        #expect(try Self.syncMetrics(leader) == expected)
        #expect(try Self.syncMetrics(stranger) == expected)
        #expect(try leader.terminate() == 0)
        #expect(try stranger.terminate() == 0)
    }
}

/// Members that fall behind or restart: counted, flagged, and back in the group through a snapshot.
@Suite(.serialized) struct SyncRejoinTests {
    static let size = 8

    final class Member {
        let scratch: ScratchDirectory
        var daemon: DaemonProcess
        let rows: String
        let rank: Int

        init(rank: Int, members: [String], timeout: String, scratch: ScratchDirectory? = nil, admin: Bool = false) throws {
            self.rank = rank
            self.scratch = try scratch ?? ScratchDirectory()
            daemon = try DaemonProcess.started(
                config: SyncGroupTests.config(rank: rank, members: members, batch: SyncRejoinTests.size, timeout: timeout, admin: admin),
                scratch: self.scratch, name: "member\(rank)")
            rows = try TestRows.write(
                TestRows.make(SyncRejoinTests.size * 10, features: SyncGroupTests.features, salt: 77 * rank),
                to: "rows.npy", in: self.scratch)
        }

        /// Sends the member's batch `step` (0-based) and returns the consumer that will read it.
        func feed(step: Int, name: String) throws -> Consumer {
            let consumer = try Consumer(
                endpoint: try daemon.outputEndpoint(of: "sensors"), expectRows: SyncRejoinTests.size, timeout: 30,
                in: scratch, name: name)
            try Producer(
                endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rows,
                messages: [MessageSpec(rows: (step * SyncRejoinTests.size)..<((step + 1) * SyncRejoinTests.size), seq: step, producer: "p\(rank)")]
            )
            .run(in: scratch, name: "producer-\(name)")
            return consumer
        }
    }

    static func sync(_ message: Consumer.Message) -> (step: Int?, members: [Int]?) {
        let sync = message.header?["sync"] as? [String: Any]
        return (sync?["step"] as? Int, sync?["members"] as? [Int])
    }

    /// Rank 1 sends nothing for step 1: the leader completes it alone after the timeout and counts
    /// the absence. Rank 1's late batch is answered stale (counted), published in infer mode flagged
    /// `rejoining sync group`; rank 1 adopts a snapshot and both hold the same statistics after step 2.
    @Test func aLateMemberIsFlaggedAndRejoinsThroughASnapshot() throws {
        let endpoints = SyncGroupTests.endpoints(2)
        // The timeout must cover starting a Python producer on a loaded machine: in step 2 a leader
        // whose own batch comes later than that after rank 1's is itself absent (and rejoins).
        let leader = try Member(rank: 0, members: endpoints, timeout: "4s", admin: true)
        let late = try Member(rank: 1, members: endpoints, timeout: "4s", admin: true)

        let alone = try leader.feed(step: 0, name: "c0-0").messages()
        #expect(alone.count == 1 && Self.sync(alone[0]).step == 1 && Self.sync(alone[0]).members == [0])
        let absent = try leader.daemon.waitForLine("absence") { $0.message == "sync step completed without absent members" }
        #expect(absent["absent"] == "[1]" && absent["present"] == "[0]")

        let flagged = try late.feed(step: 0, name: "c1-0").messages()
        #expect(flagged.count == 1)
        #expect(flagged.first?.mode == "infer" && flagged.first?.header?["downgraded"] as? String == "rejoining sync group")
        #expect(flagged.first?.header?["sync"] == nil)
        let dropped = try leader.daemon.waitForLine("stale drop") { $0.message == "dropped a stale sync contribution" }
        #expect(dropped["from_rank"] == "1" && dropped["stale_dropped_total"] == "1")
        let rejoined = try late.daemon.waitForLine("rejoin") { $0.message == "rejoined the sync group" }
        #expect(rejoined["step"] == "1" && rejoined["from_rank"] == "0")

        // Step 2: the rejoined member contributes first (the leader, idle, opens the step with it).
        let lateConsumer = try Consumer(
            endpoint: try late.daemon.outputEndpoint(of: "sensors"), expectRows: Self.size, timeout: 30,
            in: late.scratch, name: "c1-1")
        try Producer(
            endpoint: try late.daemon.inputEndpoint(of: "sensors"), rowsFile: late.rows,
            messages: [MessageSpec(rows: Self.size..<(2 * Self.size), seq: 1, producer: "p1")]
        ).run(in: late.scratch, name: "p1-1")
        let both = try leader.feed(step: 1, name: "c0-1").messages()
        let lateOutput = try lateConsumer.messages()
        #expect(Self.sync(both[0]).step == 2 && Self.sync(both[0]).members == [0, 1])
        #expect(Self.sync(lateOutput[0]).step == 2 && Self.sync(lateOutput[0]).members == [0, 1])
        #expect(lateOutput[0].mode == "train" && lateOutput[0].header?["downgraded"] == nil)
        // The same story on /metrics (a real scrape): the leader took part in both steps, led the one
        // rank 1 missed (absent once) and dropped its stale contribution; rank 1 rejoined once and
        // trained in step 2 only. Each step's exchange time is in the histogram.
        var leaderSeries = try SyncGroupTests.syncMetrics(leader.daemon)
        var lateSeries = try SyncGroupTests.syncMetrics(late.daemon)
        #expect(leaderSeries.removeValue(forKey: "step_seconds_sum").map { $0 > 0 } == true)
        #expect(lateSeries.removeValue(forKey: "step_seconds_sum").map { $0 > 0 } == true)
        var expected = SyncGroupTests.zeroSyncMetrics(members: 2)
        expected["steps_total"] = 2
        expected["step_seconds_count"] = 2
        expected["absences_total{rank=\"1\"}"] = 1
        expected["stale_dropped_total"] = 1
        #expect(leaderSeries == expected)
        expected = SyncGroupTests.zeroSyncMetrics(members: 2)
        expected["steps_total"] = 1
        expected["step_seconds_count"] = 1
        expected["rejoins_total"] = 1
        #expect(lateSeries == expected)
        #expect(try leader.daemon.terminate() == 0)
        #expect(try late.daemon.terminate() == 0)
        #expect(
            SyncGroupTests.statistics(try SyncGroupTests.exported(leader.scratch))
                == SyncGroupTests.statistics(try SyncGroupTests.exported(late.scratch)))
    }

    /// The newest checkpoint's `sync_step` of a member.
    static func checkpointedStep(_ scratch: ScratchDirectory) throws -> Int? {
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path("state")).filter { $0.hasPrefix("normd-state-") }.sorted()
        let document =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch.path("state/" + (files.last ?? "")))))
            as? [String: Any]
        return (((document?["body"] as? [String: Any])?["pipelines"] as? [[String: Any]])?.first)?["sync_step"] as? Int
    }

    /// A whole group stopped and restarted from its checkpoints resumes at their `sync_step`: the
    /// next step is 3 (not 1) in the headers and the checkpoints, both members train in it, and they
    /// still hold identical statistics.
    @Test func aGroupRestartedFromItsCheckpointsResumesAtTheirStep() throws {
        let endpoints = SyncGroupTests.endpoints(2)
        let members = try (0..<2).map { try Member(rank: $0, members: endpoints, timeout: "4s") }
        func step(_ index: Int) throws -> [Consumer.Message] {
            let consumers = try members.map { try $0.feed(step: index, name: "c\($0.rank)-\(index)") }
            return try consumers.flatMap { try $0.messages() }
        }
        #expect(try step(0).map { Self.sync($0).step } == [1, 1])
        #expect(try step(1).map { Self.sync($0).step } == [2, 2])
        for member in members { #expect(try member.daemon.terminate() == 0) }
        #expect(try members.map { try Self.checkpointedStep($0.scratch) } == [2, 2])

        for member in members {
            member.daemon = try DaemonProcess.started(
                config: SyncGroupTests.config(rank: member.rank, members: endpoints, batch: Self.size, timeout: "4s"), scratch: member.scratch,
                name: "member\(member.rank)-again")
        }
        for member in members {
            let resumed = try member.daemon.waitForLine("resume") { $0.message == "sync member resumes at the checkpoint's step" }
            #expect(resumed["step"] == "2")
        }
        let third = try step(2)
        #expect(third.map { Self.sync($0).step } == [3, 3])
        #expect(third.allSatisfy { Self.sync($0).members == [0, 1] && $0.mode == "train" && $0.header?["downgraded"] == nil })
        for member in members { #expect(try member.daemon.terminate() == 0) }
        #expect(try members.map { try Self.checkpointedStep($0.scratch) } == [3, 3])
        #expect(
            SyncGroupTests.statistics(try SyncGroupTests.exported(members[0].scratch))
                == SyncGroupTests.statistics(try SyncGroupTests.exported(members[1].scratch)))
    }

    static let rejoinTimeout = "10s"

    /// Kill -9 rank 2 after step 1, step on without it, restart it: it adopts a snapshot at start and
    /// after the next step all three hold identical statistics.
    ///
    /// The timeout (10 s) bounds how far apart the live members' Python producers may start: with 6 s,
    /// a run beside three compilers once saw rank 1 arrive after the leader had closed step 2 without it.
    @Test func aRestartedMemberRejoinsAndConverges() throws {
        let endpoints = SyncGroupTests.endpoints(3)
        let members = try (0..<3).map { try Member(rank: $0, members: endpoints, timeout: Self.rejoinTimeout) }
        func step(_ index: Int, _ ranks: [Int]) throws -> [Consumer.Message] {
            let consumers = try ranks.map { rank in
                try Consumer(
                    endpoint: try members[rank].daemon.outputEndpoint(of: "sensors"), expectRows: Self.size, timeout: 30,
                    in: members[rank].scratch, name: "c\(rank)-\(index)")
            }
            let producers = try ranks.map { rank in
                try Producer(
                    endpoint: try members[rank].daemon.inputEndpoint(of: "sensors"), rowsFile: members[rank].rows,
                    messages: [MessageSpec(rows: (index * Self.size)..<((index + 1) * Self.size), seq: index, producer: "p\(rank)")]
                )
                .start(in: members[rank].scratch, name: "p\(rank)-\(index)")
            }
            for producer in producers { _ = try Producer.result(of: producer, messages: 1) }
            return try consumers.flatMap { try $0.messages() }
        }
        #expect(try step(0, [0, 1, 2]).map { Self.sync($0).members ?? [] } == [[0, 1, 2], [0, 1, 2], [0, 1, 2]])
        members[2].daemon.send(SIGKILL)
        _ = try members[2].daemon.waitForExit()
        #expect(try step(1, [0, 1]).map { Self.sync($0).members ?? [] } == [[0, 1], [0, 1]])
        #expect(try step(2, [0, 1]).map { Self.sync($0).step ?? 0 } == [3, 3])

        members[2].daemon = try DaemonProcess.started(
            config: SyncGroupTests.config(rank: 2, members: endpoints, batch: Self.size, timeout: Self.rejoinTimeout), scratch: members[2].scratch,
            name: "member2-again")
        let rejoined = try members[2].daemon.waitForLine("rejoin") { $0.message == "rejoined the sync group" }
        #expect(rejoined["step"] == "3")
        // Rank 2 first, so the idle leader opens step 4 with it, then the others.
        let restartedConsumer = try Consumer(
            endpoint: try members[2].daemon.outputEndpoint(of: "sensors"), expectRows: Self.size, timeout: 30,
            in: members[2].scratch, name: "c2-3")
        try Producer(
            endpoint: try members[2].daemon.inputEndpoint(of: "sensors"), rowsFile: members[2].rows,
            messages: [MessageSpec(rows: (3 * Self.size)..<(4 * Self.size), seq: 3, producer: "p2")]
        ).run(in: members[2].scratch, name: "p2-3")
        let others = try step(3, [0, 1])
        let restarted = try restartedConsumer.messages()
        for message in others + restarted {
            #expect(Self.sync(message).step == 4 && Self.sync(message).members == [0, 1, 2] && message.mode == "train")
        }
        for member in members { #expect(try member.daemon.terminate() == 0) }
        let states = try members.map { SyncGroupTests.statistics(try SyncGroupTests.exported($0.scratch)) }
        #expect(states[1] == states[0])
        #expect(states[2] == states[0])
    }
}
