import Foundation
import NormTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A reload that cannot be applied whole is refused before anything changes (issue 9 §4 "All or
/// nothing"): the new endpoints of every re-bound or added pipeline are bound (and released) first,
/// so a taken port of the second of two re-bound pipelines leaves the first one where it was.
@Suite(.serialized) struct ReloadAtomicityTests {
    static func pipeline(_ name: String, input port: Int, in directory: String) -> String {
        """
          - name: \(name)
            features: \(ReloadPipelinesTests.features)
            batch: {size: 4, max_latency: 10s}
            inputs: [{endpoint: "tcp://127.0.0.1:\(port)", socket: pull, bind: true, codec: tensor}]
            output: {endpoint: "ipc://\(directory)/\(name)-out", socket: pub, bind: true}
            stages:
              - type: min_max
        """
    }

    static func config(a: Int, b: Int, in directory: String) -> String {
        "admin: {listen: \"127.0.0.1:0\"}\npipelines:\n" + pipeline("a", input: a, in: directory) + "\n" + pipeline("b", input: b, in: directory)
    }

    @Test func aTakenPortOfTheSecondRebindChangesNothing() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.url.path
        let (aOld, bOld, aNew) = (try ReloadAdminTests.freePort(), try ReloadAdminTests.freePort(), try ReloadAdminTests.freePort())
        let daemon = try DaemonProcess.started(config: Self.config(a: aOld, b: bOld, in: dir), scratch: scratch)
        let admin = try AdminHTTP(daemon)
        try ReloadPipelinesTests.send(rows: 2, index: 0, to: "tcp://127.0.0.1:\(aOld)")
        try daemon.waitForCounts(of: "a", "2 rows accepted") { $0["rows_accepted"] == "2" }

        let (holder, taken) = try ReloadAdminTests.listeningSocket()
        defer { close(holder) }
        let answer = try ReloadPipelinesTests.reload(daemon, to: Self.config(a: aNew, b: taken, in: dir), admin)
        #expect(answer.status == 422)
        let problems = try #require((answer.json as? [String: Any])?["problems"] as? [String], "\(answer.body)")
        #expect(problems.count == 1, "\(problems)")
        let problem = try #require(problems.first)
        #expect(problem.hasPrefix("\(daemon.configPath):"), "\(problem)")
        #expect(
            problem.contains(": pipelines[1].inputs[0].endpoint: cannot bind tcp://127.0.0.1:\(taken): Address already in use"), "\(problem)")
        #expect(problem.hasSuffix("; nothing changed (no pipeline was re-bound or added)"), "\(problem)")
        #expect(daemon.logLines.contains { $0.message == "reload failed" && $0["configuration"] == "unchanged" })
        #expect(!daemon.logLines.contains { $0.message == "reload: pipeline re-bound" }, "\(daemon.stderr)")
        #expect(!daemon.logLines.contains { $0.message == "pipeline stopped" }, "no pipeline was stopped: \(daemon.stderr)")
        #expect(ReloadAdminTests.accepting(aOld), "a's old endpoint is still bound")
        #expect(!ReloadAdminTests.accepting(aNew), "the probe released a's new endpoint")

        // a runs on, with its rows: the 2 waiting and 2 more make its first batch.
        try ReloadPipelinesTests.send(rows: 2, index: 1, to: "tcp://127.0.0.1:\(aOld)")
        let scrape = try admin.metrics { $0[#"normd_rows_published_total{pipeline="a"}"#] == 4 }
        #expect(scrape[#"normd_rows_published_total{pipeline="a"}"#] == 4)
        #expect(scrape[#"normd_config_reloads_total{result="failure"}"#] == 1)
        #expect(try daemon.terminate() == 0)
        #expect(try daemon.finalCounts(of: "a").text.hasPrefix("messages_accepted=2 rows_accepted=4 "), "\(daemon.stderr)")
        #expect(daemon.logLines.filter { $0.message == "pipeline stopped" }.count == 2, "each pipeline stopped once, at the shutdown")
    }
}
