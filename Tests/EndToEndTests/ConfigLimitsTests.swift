import Foundation
import NormTesting
import Testing

/// `normd validate` refuses every size, count and duration beyond `Docs/LIMITS.md` with a located
/// message naming the limit — each of these used to trap, exhaust memory, or pass validation and
/// then crash `normd run`. Run under a memory cap and a timeout (`BoundedNormd`), so a regression
/// fails the test rather than the machine.
@Suite struct ConfigLimitsTests {
    /// `normd validate --config NAME` on `yaml` written to a scratch directory.
    private func validate(_ yaml: String, named name: String) throws -> Normd.Result {
        let scratch = try ScratchDirectory()
        _ = try scratch.write(yaml, to: name)
        return try BoundedNormd.run(["validate", "--config", name], in: scratch.url)
    }

    @Test func durationsBeyondTheirLimitAreRefused() throws {
        let result = try validate(
            """
            pipelines:
              - name: p
                features: 4
                batch: {size: 8, max_latency: 1e300}
                inputs: [{endpoint: "tcp://127.0.0.1:*"}]
                output: {endpoint: "tcp://127.0.0.1:*", shutdown_timeout: "99999999999999999h"}
                stages: [{type: batch_norm}]
            checkpoint: {path: state, every_seconds: 1e12}

            """, named: "d.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "d.yaml:4:35: pipelines[0].batch.max_latency: must be at most 3600 seconds = 1h (Docs/LIMITS.md), got 1e300",
                "d.yaml:6:63: pipelines[0].output.shutdown_timeout: must be at most 3600 seconds = 1h (Docs/LIMITS.md), got \"99999999999999999h\"",
                "d.yaml:8:42: checkpoint.every_seconds: must be at most 86400 seconds = 24h (Docs/LIMITS.md), got 1e12",
                "d.yaml: 3 errors",
            ])
    }

    @Test(arguments: ["4611686018427387904", "1000000000"])
    func featuresBeyondTheLimitAreRefused(features: String) throws {
        let result = try validate("pipelines:\n  - name: p\n    features: \(features)\n    stages: [{type: batch_norm}]\n", named: "f.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "f.yaml:3:15: pipelines[0].features: must be at most 1048576 (Docs/LIMITS.md), got \(features)",
                "f.yaml: 1 error",
            ])
    }

    @Test func batchSizeAndBatchBytesAreBounded() throws {
        let result = try validate(
            """
            pipelines:
              - name: p
                features: 4
                batch: {size: 1000000000000}
                stages: [{type: batch_norm}]
              - name: q
                features: 4096
                batch: {size: 65536}
                stages: [{type: batch_norm}]

            """, named: "b.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "b.yaml:4:19: pipelines[0].batch.size: must be at most 1048576 (Docs/LIMITS.md), got 1000000000000",
                "b.yaml:8:19: pipelines[1].batch.size: a batch of 65536 rows × 4096 features × 4 bytes is 1073741824 bytes, more than the limit of 268435456 bytes = 256 MiB (Docs/LIMITS.md); with 4096 features batch.size can be at most 16384",
                "b.yaml: 2 errors",
            ])
    }

    /// `batch.size: 2^62` passed validation and then overflowed in `normd run`'s socket set-up.
    @Test func runRefusesAnOverflowingBatchSizeAsAConfigError() throws {
        let scratch = try ScratchDirectory()
        _ = try scratch.write(
            """
            pipelines:
              - name: p
                features: 4
                batch: {size: 4611686018427387904}
                inputs: [{endpoint: "tcp://127.0.0.1:*"}]
                output: {endpoint: "tcp://127.0.0.1:*"}
                stages: [{type: batch_norm}]

            """, to: "r.yaml")
        let result = try BoundedNormd.run(["run", "--config", "r.yaml"], in: scratch.url)
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "r.yaml:4:19: pipelines[0].batch.size: must be at most 1048576 (Docs/LIMITS.md), got 4611686018427387904"
            ])
    }

    @Test func socketSizesAndPortsAreBounded() throws {
        let result = try validate(
            """
            pipelines:
              - name: p
                features: 4
                inputs:
                  - {endpoint: "tcp://127.0.0.1:70000", max_message_bytes: 1099511627776, high_water_mark: 1000000000}
                  - {endpoint: "tcp://127.0.0.1:*", bind: false, queue_bytes: 1099511627776, linger: 10000000000}
                output: {endpoint: "tcp://127.0.0.1"}
                stages: [{type: batch_norm}]

            """, named: "s.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "s.yaml:5:20: pipelines[0].inputs[0].endpoint: the tcp port must be 1-65535, or * or 0 for any free port, got \"tcp://127.0.0.1:70000\"",
                "s.yaml:5:64: pipelines[0].inputs[0].max_message_bytes: must be at most 268435456 bytes = 256 MiB (Docs/LIMITS.md), got 1099511627776",
                "s.yaml:5:96: pipelines[0].inputs[0].high_water_mark: must be at most 100000 (Docs/LIMITS.md), got 1000000000",
                "s.yaml:6:20: pipelines[0].inputs[1].endpoint: the tcp port must be 1-65535 (a connecting socket needs the peer's port), got \"tcp://127.0.0.1:*\"",
                "s.yaml:6:67: pipelines[0].inputs[1].queue_bytes: must be at most 1073741824 bytes = 1 GiB (Docs/LIMITS.md), got 1099511627776",
                "s.yaml:6:90: pipelines[0].inputs[1].linger: must be at most 86400000 (Docs/LIMITS.md), got 10000000000",
                "s.yaml:7:24: pipelines[0].output.endpoint: a tcp endpoint needs a port (tcp://host:port), got \"tcp://127.0.0.1\"",
                "s.yaml: 7 errors",
            ])
    }

    @Test func checkpointCountsAreBounded() throws {
        let result = try validate(
            """
            pipelines:
              - name: p
                features: 4
                stages: [{type: batch_norm}]
            checkpoint: {path: state, every_batches: 1000000000000, keep: 1000000}

            """, named: "c.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "c.yaml:5:42: checkpoint.every_batches: must be at most 1000000000 (Docs/LIMITS.md), got 1000000000000",
                "c.yaml:5:63: checkpoint.keep: must be at most 1000 (Docs/LIMITS.md), got 1000000",
                "c.yaml: 2 errors",
            ])
    }

    /// Over-long strings are refused by their length; the string itself is not echoed.
    @Test func longStringsAreRefusedWithoutEchoingThem() throws {
        let name = String(repeating: "a", count: 200)
        let host = String(repeating: "b", count: 300)
        let topic = String(repeating: "c", count: 300)
        let result = try validate(
            """
            pipelines:
              - name: \(name)
                features: 4
                inputs: [{endpoint: "tcp://\(host):5555"}]
                output: {endpoint: "tcp://127.0.0.1:*", socket: pub, topic: \(topic)}
                stages: [{type: batch_norm}]

            """, named: "n.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "n.yaml:2:11: pipelines[0].name: must be at most 128 bytes long (Docs/LIMITS.md), got a string of 200 bytes",
                "n.yaml:4:25: pipelines[0].inputs[0].endpoint: must be at most 256 bytes long (Docs/LIMITS.md), got a string of 311 bytes",
                "n.yaml:5:65: pipelines[0].output.topic: must be at most 256 bytes long (Docs/LIMITS.md), got a string of 300 bytes",
                "n.yaml: 3 errors",
            ])
    }

    /// Keys and stage types are echoed in messages; a megabyte-long one (an explicit `? key`, as
    /// libyaml limits simple keys to 1024 characters) is cut (a key in the path
    /// after 4096 bytes, in the message after 128) and finding a "did you mean" for it costs
    /// nothing (the edit distance of a megabyte-long key to every known key took seconds).
    @Test func megabyteLongKeysAndKindsAreCutInMessages() throws {
        let key = String(repeating: "k", count: 1 << 20)
        let kind = String(repeating: "t", count: 1 << 20)
        let result = try validate("pipelines:\n  - name: p\n    features: 4\n    stages: [{type: \(kind)}]\n    ? \(key)\n    : 1\n", named: "k.yaml")
        let cut = { (character: String, bytes: Int) in String(repeating: character, count: bytes) + "…(1048576 bytes)" }
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "k.yaml:4:21: pipelines[0].stages[0].type: unknown stage type '\(cut("t", 128))' (known: batch_norm, batch_renorm, min_max, standard_scale)",
                "k.yaml:5:7: pipelines[0].\(cut("k", 4096)): unknown key '\(cut("k", 128))'; expected one of: name, features, mode, batch, invalid_rows, max_producers, inputs, output, statistics_from, sync, chain_thread, io_threads, stages",
                "k.yaml: 2 errors",
            ])
    }

    @Test func aPipelineMayHaveAtMost64Stages() throws {
        let stages = Array(repeating: "{type: batch_norm}", count: 65).joined(separator: ", ")
        let result = try validate("pipelines:\n  - name: p\n    features: 4\n    stages: [\(stages)]\n", named: "l.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "l.yaml:4:13: pipelines[0].stages: must list at most 64 stages (Docs/LIMITS.md), got 65",
                "l.yaml: 1 error",
            ])
    }

    /// Statistics are allocated per feature and stage when validation builds the chains, so the
    /// file as a whole has a budget of `features × stages` (4194304).
    @Test func theFileHasABudgetOfStatisticsColumns() throws {
        let pipelines = (0..<5).map { "  - {name: p\($0), features: 1000000, batch: {size: 16}, stages: [{type: batch_norm}]}" }
        let result = try validate("pipelines:\n" + pipelines.joined(separator: "\n") + "\n", named: "budget.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "budget.yaml:6:62: pipelines[4].stages: 1 stage × 1000000 features need 1000000 columns of statistics, more than the 194304 left of the limit of 4194304 for the whole file (Docs/LIMITS.md)",
                "budget.yaml: 1 error",
            ])
    }

    /// A "billion laughs" file: nine levels of nine aliases each. It reached 10 GB before; now the
    /// count of nodes after expansion stops it at the first alias that exceeds 10⁶ — well within
    /// the (generous) timeout, which is the only time bound asserted.
    @Test func aBillionLaughsFileIsRefused() throws {
        var lines = ["a: &a [\(Array(repeating: "\"lol\"", count: 9).joined(separator: ","))]"]
        let names = Array("abcdefghi")
        for index in 1..<names.count {
            lines.append("\(names[index]): &\(names[index]) [\(Array(repeating: "*\(names[index - 1])", count: 9).joined(separator: ","))]")
        }
        lines.append("pipelines: *i")
        let result = try validate(lines.joined(separator: "\n") + "\n", named: "laughs.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "laughs.yaml:7:8: the YAML expands to more than 1000000 nodes, the limit (each use of an alias counts every node of its anchor; Docs/LIMITS.md)",
                "laughs.yaml: 1 error",
            ])
    }

    /// A 2-million-element `gamma` list (4 MB, under the file limit) took 9 s and 480 MB to refuse.
    @Test func aTwoMillionElementListIsRefusedByTheNodeLimit() throws {
        let gamma = Array(repeating: "1", count: 2_000_000).joined(separator: ",")
        let result = try validate(
            "pipelines:\n  - name: p\n    features: 4\n    stages:\n      - type: batch_norm\n        gamma: [\(gamma)]\n",
            named: "gamma.yaml")
        // 15 nodes come before the first item (the root mapping, `pipelines`, its list, the
        // pipeline mapping, 3 keys and values, the stage list and mapping, `type`, `batch_norm`,
        // `gamma`, the gamma list), so item 1_000_000 - 14 is the first beyond the limit; items
        // start at column 17 and take 2 columns each.
        let column = 17 + 2 * (1_000_000 - 15)
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "gamma.yaml:6:\(column): the YAML expands to more than 1000000 nodes, the limit (each use of an alias counts every node of its anchor; Docs/LIMITS.md)",
                "gamma.yaml: 1 error",
            ])
    }

    /// libyaml stops at 1000 levels by itself; normd's own limit is 64 (the composer and the
    /// loader recurse once per level).
    @Test func nestingDeeperThan64LevelsIsRefused() throws {
        let depth = 100
        let result = try validate(
            "pipelines: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n", named: "deep.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "deep.yaml:1:75: the YAML nests collections more than 64 levels deep, the limit (Docs/LIMITS.md)",
                "deep.yaml: 1 error",
            ])
    }

    /// At most 4 MiB + 1 bytes are read, so an endless "file" is refused by the same limit, with a
    /// message that says why (Foundation used to give up on it with "cannot read the file").
    @Test func anEndlessConfigurationIsRefused() throws {
        let scratch = try ScratchDirectory()
        let result = try BoundedNormd.run(["validate", "--config", "/dev/zero"], in: scratch.url)
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "/dev/zero:1:1: the file is larger than 4194304 bytes = 4 MiB, the limit for a configuration (Docs/LIMITS.md)",
                "/dev/zero: 1 error",
            ])
    }

    @Test func aFileOverFourMebibytesIsRefused() throws {
        let padding = "# " + String(repeating: "x", count: 4 << 20) + "\n"
        let result = try validate("pipelines:\n  - name: p\n    features: 4\n    stages: [{type: batch_norm}]\n" + padding, named: "big.yaml")
        #expect(result.status == 78)
        #expect(
            result.stderrLines == [
                "big.yaml:1:1: the file is larger than 4194304 bytes = 4 MiB, the limit for a configuration (Docs/LIMITS.md)",
                "big.yaml: 1 error",
            ])
    }
}
