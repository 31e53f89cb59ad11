import Foundation
import Testing

/// Output sockets other than PUSH.
@Suite struct DaemonOutputTests {
    @Test func aPubOutputSendsTopicHeaderAndPayloadFrames() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML(batch: "{size: 8, min_rows: 2, max_latency: 50ms}")
        pipeline.output = "{endpoint: \"\(PipelineYAML.tcpWildcard)\", socket: pub, topic: norm.sensors}"
        let daemon = try DaemonProcess.started(config: PipelineYAML.config(pipeline), scratch: scratch)
        let rowsFile = try TestRows.write(TestRows.make(24, features: 4), to: "rows.npy", in: scratch)
        let messages = MessageSpec.tensors(sizes: [8, 8, 8], producer: "p")

        // Subscribed by prefix; probes go out until the subscription has reached the daemon's PUB.
        let consumer = try Consumer(endpoint: try daemon.outputEndpoint(of: "sensors"), socket: "sub", topic: "norm.",
                                    expectRows: 24, in: scratch)
        try Producer(endpoint: try daemon.inputEndpoint(of: "sensors"), rowsFile: rowsFile, messages: messages,
                     probeReadyFile: consumer.readyFile).run(in: scratch)
        let received = try consumer.messages()
        #expect(try daemon.terminate() == 0)

        #expect(!received.isEmpty && received.allSatisfy { $0.frames == 3 && $0.topic == "norm.sensors" })
        #expect(received.allSatisfy { $0.header?["pipeline"] as? String == "sensors" })
        #expect(try RowTracing.inputRows(of: received, firstRow: RowTracing.firstRows(messages)) == Array(0..<24))
    }
}
