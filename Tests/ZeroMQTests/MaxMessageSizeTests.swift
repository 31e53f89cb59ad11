import Foundation
import Testing
import ZeroMQ

@Suite("ZMQ_MAXMSGSIZE")
struct MaxMessageSizeTests {
    /// libzmq guarantees only that an oversize frame is never delivered (the receiver drops the
    /// connection); the connecting peer then reconnects and later messages flow again.
    @Test func oversizeFrameIsNeverDelivered() throws {
        let context = try ZMQContext()
        let pull = try makeSocket(context, .pull)
        try pull.setMaxMessageSize(1024)
        try pull.bind("tcp://127.0.0.1:*")
        let push = try makeSocket(context, .push)
        try push.setReconnectInterval(milliseconds: 10)
        try push.connect(try pull.lastEndpoint)

        try push.send(patternBytes(count: 4096))

        let poller = ZMQPoller()
        poller.register(pull, for: .pollIn)
        let deadline = ContinuousClock.now + .seconds(5)
        var smallArrived = false
        var attempt = 0
        while !smallArrived && ContinuousClock.now < deadline {
            attempt += 1
            try push.send("small \(attempt)", flags: .dontWait)
            if try poller.poll(timeoutMilliseconds: 20) > 0 {
                while let frame = try pull.receive(flags: .dontWait) {
                    #expect(frame.count <= 1024, "an oversize frame was delivered")
                    smallArrived = true
                }
            }
        }
        #expect(smallArrived, "no message after the oversize one within 5 s")
    }
}
