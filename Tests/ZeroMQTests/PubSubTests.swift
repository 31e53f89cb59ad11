import Foundation
import Testing
import ZeroMQ

@Suite("PUB/SUB over ipc")
struct PubSubTests {
    @Test func subscriberReceivesOnlyItsTopicPrefix() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let endpoint = "ipc://\(directory)/pub.sock"

        let context = try ZMQContext()
        let pub = try makeSocket(context, .pub)
        try pub.bind(endpoint)
        let sub = try makeSocket(context, .sub)
        try sub.subscribe("a.")
        try sub.connect(endpoint)

        // Slow joiner: PUB drops everything until the subscription has reached it, so keep
        // publishing both topics until the first matching message arrives.
        var parts = ZMQMultipart()
        let deadline = ContinuousClock.now + .seconds(5)
        var received = false
        while !received && ContinuousClock.now < deadline {
            try pub.sendMultipart([Array("b.x".utf8), Array("filtered".utf8)])
            try pub.sendMultipart([Array("a.x".utf8), Array("wanted".utf8)])
            Thread.sleep(forTimeInterval: 0.01)
            while try sub.receiveMultipart(into: &parts, flags: .dontWait) {
                #expect(parts.map(\.bytes) == [Array("a.x".utf8), Array("wanted".utf8)])
                received = true
            }
        }
        #expect(received, "no message within 5 s")

        // Now connected: a "b." message published before an "a." one must not come first.
        try pub.sendMultipart([Array("b.x".utf8), Array("late".utf8)])
        try pub.sendMultipart([Array("a.y".utf8), Array("last".utf8)])
        try sub.setReceiveTimeout(milliseconds: 5000)
        #expect(try sub.receiveMultipart(into: &parts))
        #expect(parts.map(\.bytes) == [Array("a.y".utf8), Array("last".utf8)])
    }

    @Test func unsubscribeStopsDelivery() throws {
        let context = try ZMQContext()
        let pub = try makeSocket(context, .pub)
        try pub.bind("inproc://unsubscribe")
        let sub = try makeSocket(context, .sub)
        try sub.subscribe(Array("drop".utf8))
        try sub.connect("inproc://unsubscribe")
        try sub.unsubscribe(Array("drop".utf8))
        try sub.subscribe("keep")
        // Subscriptions travel to the publisher asynchronously, in order on one pipe: once "keep"
        // flows, the earlier cancellation of "drop" has been applied too.
        let deadline = ContinuousClock.now + .seconds(5)
        var got: [UInt8]?
        while got != Array("keep".utf8) && ContinuousClock.now < deadline {
            try pub.send("keep")
            got = try sub.receive(flags: .dontWait)
            if got == nil { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(got == Array("keep".utf8))
        while try sub.receive(flags: .dontWait) != nil {} // extra copies from the loop

        try pub.send("drop")
        try pub.send("keep-2")
        try sub.setReceiveTimeout(milliseconds: 5000)
        #expect(try sub.receive() == Array("keep-2".utf8))
    }
}
