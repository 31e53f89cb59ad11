import Foundation
import NormTesting
import Testing

/// `/metrics` across reloads (issue 9 §3 and §4): a pipeline added by a reload, and a re-bound
/// pipeline's new inputs, get the same series (names, labels, buckets) a pipeline has at start; a
/// removed pipeline's series stop being exported; removing and adding the same name again in one
/// daemon registers it afresh (swift-prometheus calls `fatalError` on a registration that differs).
@Suite(.serialized) struct ReloadMetricsTests {
    /// Pipeline `name` with `inputs` pull inputs on ipc endpoints and a PUB output (nobody needs to
    /// consume: PUB never blocks), batches of 4.
    static func pipeline(_ name: String, inputs: Int, in directory: String) -> String {
        let endpoints = (0..<inputs).map { #"{endpoint: "ipc://\#(directory)/\#(name)-in\#($0)", socket: pull, bind: true, codec: tensor}"# }
        return """
              - name: \(name)
                features: \(ReloadPipelinesTests.features)
                batch: {size: 4, max_latency: 10s}
                inputs: [\(endpoints.joined(separator: ", "))]
                output: {endpoint: "ipc://\(directory)/\(name)-out", socket: pub, bind: true}
                stages:
                  - type: min_max
            """
    }

    static func config(_ pipelines: [String]) -> String {
        "admin: {listen: \"127.0.0.1:0\"}\npipelines:\n" + pipelines.joined(separator: "\n")
    }

    /// The series of `pipeline` (sample lines' names with labels), with the pipeline label renamed to `as`.
    static func series(of pipeline: String, in scrape: [String: Double], as name: String? = nil) -> Set<String> {
        Set(
            scrape.keys.filter { $0.contains(#"pipeline="\#(pipeline)""#) }
                .map { $0.replacingOccurrences(of: #"pipeline="\#(pipeline)""#, with: #"pipeline="\#(name ?? pipeline)""#) })
    }

    @Test func seriesFollowPipelinesAddedReboundAndRemovedByReload() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.url.path
        let daemon = try DaemonProcess.started(config: Self.config([Self.pipeline("a", inputs: 1, in: dir)]), scratch: scratch)
        let admin = try AdminHTTP(daemon)
        let atStart = try admin.metrics()
        let seriesOfA = Self.series(of: "a", in: atStart)
        #expect(seriesOfA.contains(#"normd_rows_received_total{pipeline="a",input="0"}"#))
        #expect(seriesOfA.contains(#"normd_batch_latency_seconds_count{pipeline="a"}"#))
        let inputSeries = seriesOfA.filter { $0.contains(#"input="0""#) }
        #expect(inputSeries.count == 3 + 11, "received, rows, bytes and 11 reject reasons: \(inputSeries.sorted())")

        // a re-bound with a second input, b added.
        var answer = try ReloadPipelinesTests.reload(
            daemon, to: Self.config([Self.pipeline("a", inputs: 2, in: dir), Self.pipeline("b", inputs: 1, in: dir)]), admin)
        #expect(answer.status == 200)
        #expect(answer.body == #"{"result":"success","kept":[{"kind":"min_max","pipeline":"a","stage":0}],"reset":[],"added":["b"],"removed":[]}"#)
        var scrape = try admin.metrics()
        #expect(
            Self.series(of: "b", in: scrape).symmetricDifference(Self.series(of: "a", in: atStart, as: "b")).sorted() == [],
            "an added pipeline has exactly the series a started one has")
        let secondInput = Set(inputSeries.map { $0.replacingOccurrences(of: #"input="0""#, with: #"input="1""#) })
        #expect(
            Self.series(of: "a", in: scrape).symmetricDifference(seriesOfA.union(secondInput)).sorted() == [],
            "the re-bound pipeline's new input has its series")

        try ReloadPipelinesTests.send(rows: 4, index: 0, to: "ipc://\(dir)/a-in1")
        try ReloadPipelinesTests.send(rows: 8, index: 1, to: "ipc://\(dir)/b-in0")
        scrape = try admin.metrics {
            $0[#"normd_rows_received_total{pipeline="a",input="1"}"#] == 4 && $0[#"normd_rows_published_total{pipeline="b"}"#] == 8
        }
        #expect(scrape[#"normd_rows_received_total{pipeline="a",input="1"}"#] == 4)
        #expect(scrape[#"normd_rows_received_total{pipeline="a",input="0"}"#] == 0)
        #expect(scrape[#"normd_messages_received_total{pipeline="b",input="0"}"#] == 1)
        #expect(scrape[#"normd_rows_received_total{pipeline="b",input="0"}"#] == 8)
        #expect(scrape[#"normd_rows_published_total{pipeline="b"}"#] == 8)
        #expect(scrape[#"normd_batches_published_total{pipeline="b",mode="train"}"#] == 2)
        #expect(scrape[#"normd_batch_process_seconds_count{pipeline="b"}"#] == 2, "the added pipeline records its histograms")

        // b removed: none of its series is exported any more.
        answer = try ReloadPipelinesTests.reload(daemon, to: Self.config([Self.pipeline("a", inputs: 2, in: dir)]), admin)
        #expect(answer.status == 200)
        #expect(answer.body == #"{"result":"success","kept":[{"kind":"min_max","pipeline":"a","stage":0}],"reset":[],"added":[],"removed":["b"]}"#)
        scrape = try admin.metrics()
        #expect(Self.series(of: "b", in: scrape).isEmpty, "a removed pipeline's series are gone: \(Self.series(of: "b", in: scrape).sorted())")
        #expect(scrape[#"normd_rows_received_total{pipeline="a",input="1"}"#] == 4)

        // b added again under the same name: registered afresh (no fatalError), its counters from 0.
        answer = try ReloadPipelinesTests.reload(
            daemon, to: Self.config([Self.pipeline("a", inputs: 2, in: dir), Self.pipeline("b", inputs: 1, in: dir)]), admin)
        #expect(answer.status == 200)
        #expect(answer.body == #"{"result":"success","kept":[{"kind":"min_max","pipeline":"a","stage":0}],"reset":[],"added":["b"],"removed":[]}"#)
        scrape = try admin.metrics()
        #expect(Self.series(of: "b", in: scrape).symmetricDifference(Self.series(of: "a", in: atStart, as: "b")).sorted() == [])
        #expect(scrape[#"normd_rows_received_total{pipeline="b",input="0"}"#] == 0)
        try ReloadPipelinesTests.send(rows: 4, index: 2, to: "ipc://\(dir)/b-in0")
        scrape = try admin.metrics { $0[#"normd_rows_published_total{pipeline="b"}"#] == 4 }
        #expect(scrape[#"normd_rows_received_total{pipeline="b",input="0"}"#] == 4)
        #expect(scrape[#"normd_rows_published_total{pipeline="b"}"#] == 4)

        // a back to one input: the second input's series go.
        answer = try ReloadPipelinesTests.reload(
            daemon, to: Self.config([Self.pipeline("a", inputs: 1, in: dir), Self.pipeline("b", inputs: 1, in: dir)]), admin)
        #expect(answer.status == 200)
        scrape = try admin.metrics()
        #expect(Self.series(of: "a", in: scrape).symmetricDifference(seriesOfA).sorted() == [], "the dropped input's series are gone")
        #expect(scrape[#"normd_rows_received_total{pipeline="a",input="0"}"#] == 0)
        let families = try admin.get("/metrics").body.split(separator: "\n").filter { $0.hasPrefix("# TYPE normd_rows_received_total ") }
        #expect(families.count == 1)
        #expect(try daemon.terminate() == 0, "\(daemon.stderr)")
        #expect(try daemon.finalCounts(of: "b").text.hasPrefix("messages_accepted=1 rows_accepted=4 "), "\(daemon.stderr)")
    }
}
