import Foundation
import Testing
import ZeroMQ

@Suite("Poller")
struct PollerTests {
    @Test func pollTimesOutWithNothingReady() throws {
        let context = try ZMQContext()
        let (pull, _) = try bindPullOnFreePort(context)
        let poller = ZMQPoller()
        let index = poller.register(pull, for: .pollIn)

        let clock = ContinuousClock()
        let start = clock.now
        let ready = try poller.poll(timeoutMilliseconds: 100)
        let elapsed = clock.now - start

        #expect(ready == 0)
        #expect(!poller.isReadable(index))
        #expect(elapsed >= .milliseconds(90))
        #expect(elapsed < .seconds(2))
    }

    @Test func pollWakesWhenAMessageArrives() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        let poller = ZMQPoller()
        let idle = try makeSocket(context, .pull)
        try idle.bind("inproc://idle")
        let idleIndex = poller.register(idle, for: .pollIn)
        let index = poller.register(pull, for: .pollIn)

        let sender = TestThread {
            let push = try ZMQSocket(context: context, type: .push)
            try push.setLinger(milliseconds: 2000)
            try push.connect(endpoint)
            Thread.sleep(forTimeInterval: 0.05)
            try push.send("wake")
            push.close()
        }

        let clock = ContinuousClock()
        let start = clock.now
        let ready = try poller.poll(timeoutMilliseconds: 5000)
        #expect(clock.now - start < .seconds(4))
        #expect(ready == 1)
        #expect(poller.isReadable(index))
        #expect(!poller.isReadable(idleIndex))
        #expect(try pull.events.contains(.pollIn))
        #expect(try pull.receive(flags: .dontWait) == Array("wake".utf8))
        #expect(try sender.join())
    }

    @Test func pollOutReportsASendableSocket() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        defer { pull.close() }
        let push = try makeSocket(context, .push)
        try push.connect(endpoint)
        let poller = ZMQPoller(capacity: 1)
        let index = poller.register(push, for: .pollOut)
        // Connection set-up is asynchronous; PUSH becomes writable once the pipe exists.
        #expect(try poller.poll(timeoutMilliseconds: 5000) == 1)
        #expect(poller.isWritable(index))
    }

    @Test func pollingAClosedSocketThrowsNotSocket() throws {
        let context = try ZMQContext()
        let socket = try makeSocket(context, .pull)
        let poller = ZMQPoller()
        poller.register(socket, for: .pollIn)
        socket.close()
        #expect {
            try poller.poll(timeoutMilliseconds: 0)
        } throws: { ($0 as? ZMQError)?.isClosedSocket == true }
    }
}
