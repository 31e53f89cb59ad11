import Foundation
import NormTesting
import Testing

/// `process_resident_memory_bytes` and `normd_heap_bytes` (Docs/METRICS.md) against the built daemon:
/// real pyzmq clients, real HTTP scrapes, the kernel's own `/proc/PID/status`.
@Suite(.serialized) struct HeapMetricsTests {
    static let features = 128, rowsPerBatch = 256, messages = 40
    static let mib = 1_048_576.0

    static let config = """
        admin: {listen: "127.0.0.1:0"}
        pipelines:
          - name: p
            features: \(features)
            batch: {size: \(rowsPerBatch), max_latency: 10s}
            inputs: [{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true, codec: tensor}]
            output: {endpoint: "tcp://127.0.0.1:*", socket: push, bind: true}
            stages: [{type: min_max}]
        """

    @Test func theResidentSizeIsTheKernelsBetweenTwoReadings() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: Self.config, scratch: scratch)
        let http = try AdminHTTP(daemon)
        let before = try daemon.memoryKiB("VmRSS")
        let scraped = try #require(try http.metrics()["process_resident_memory_bytes"])
        let after = try daemon.memoryKiB("VmRSS")
        // Pages can come and go between the readings; a scrape itself touches a few.
        #expect(
            scraped >= Double(min(before, after) - 256) * 1024 && scraped <= Double(max(before, after) + 256) * 1024, "\(before) \(scraped) \(after)")
        #expect(try daemon.terminate() == 0)
    }

    /// The heap's `in_use` rises by what the queues hold while the output has no consumer, and falls
    /// back once a consumer drains them: the property the soak's leak check rests on. (The resident
    /// size does not fall back: `AllocatorPolicy` keeps freed heap mapped.)
    @Test func heapInUseRisesWithTheQueuesAndFallsBackWhenTheyDrain() throws {
        let scratch = try ScratchDirectory()
        let daemon = try DaemonProcess.started(config: Self.config, scratch: scratch)
        let http = try AdminHTTP(daemon)
        let inUse = #"normd_heap_bytes{state="in_use"}"#
        let idle = try #require(try http.metrics()[inUse])
        #expect(idle > 0)

        // 40 messages of one batch each (128 KiB): the first batch blocks on the consumer-less PUSH,
        // the other 39 wait in the input queue, held by libzmq.
        let input = try daemon.inputEndpoint(of: "p"), output = try daemon.outputEndpoint(of: "p")
        _ = try PythonScript.run(
            """
            import zmq
            push = zmq.Context().socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 10000); push.connect('\(input)')
            rows = np.ones((\(Self.rowsPerBatch), \(Self.features)), dtype='<f4')
            for i in range(\(Self.messages)):
                push.send_json({'dtype': '<f4', 'shape': [\(Self.rowsPerBatch), \(Self.features)]}, zmq.SNDMORE); push.send(rows)
            push.close()
            """)
        let queued = Double(Self.messages - 1) * Double(Self.rowsPerBatch * Self.features * 4)
        let full = try http.metrics { ($0[inUse] ?? 0) >= idle + queued }
        #expect(try #require(full[inUse]) >= idle + queued, "idle \(idle), queued \(queued)")

        let drained = try PythonScript.run(
            """
            import zmq
            pull = zmq.Context().socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 20000); pull.connect('\(output)')
            shapes = [json.loads(pull.recv_multipart()[0])['shape'] for _ in range(\(Self.messages))]
            print(json.dumps(shapes))
            """)
        let shape = "[\(Self.rowsPerBatch), \(Self.features)]"
        #expect(drained == "[" + Array(repeating: shape, count: Self.messages).joined(separator: ", ") + "]\n")
        // Back to idle, but for the payload buffers the output keeps in reserve (at most 1 MiB once
        // idle for 250 ms: PayloadBufferPool) and libzmq's own free lists.
        let settled = try http.metrics { ($0[inUse] ?? .infinity) <= idle + 2 * Self.mib }
        #expect(try #require(settled[inUse]) <= idle + 2 * Self.mib, "idle \(idle), full \(full[inUse] ?? 0), after \(settled[inUse] ?? 0)")
        #expect(settled[#"normd_rows_published_total{pipeline="p"}"#] == Double(Self.messages * Self.rowsPerBatch))
        #expect(try daemon.terminate() == 0)
    }
}
