import Foundation
import Testing
import ZeroMQ

@Suite("Context lifecycle")
struct ContextShutdownTests {
    @Test func shutdownWakesABlockedReceiveWithTerminated() throws {
        let context = try ZMQContext()
        let bound = DispatchSemaphore(value: 0)
        let outcome = Outcome()

        let receiver = TestThread {
            let socket = try ZMQSocket(context: context, type: .pull)
            defer { socket.close() }
            try socket.setLinger(milliseconds: 0)
            try socket.bind("inproc://blocked")
            bound.signal()
            do {
                _ = try socket.receive(into: ZMQMessage())
                outcome.set("returned without error")
            } catch let error as ZMQError {
                outcome.set(error.isTerminated ? "ETERM" : "\(error)")
            }
        }

        #expect(bound.wait(timeout: .now() + 5) == .success)
        Thread.sleep(forTimeInterval: 0.1) // let it block in zmq_msg_recv
        context.shutdown()
        #expect(try receiver.join(timeoutSeconds: 5), "receive did not return after shutdown")
        #expect(outcome.value == "ETERM")

        // Shut down: new sockets are refused, and terminate completes (the socket was closed).
        let error = try #require(throws: ZMQError.self) { _ = try ZMQSocket(context: context, type: .push) }
        #expect(error.isTerminated)
        context.shutdown() // idempotent
        context.terminate()
        #expect(context.isTerminated)
        context.terminate() // idempotent
        context.shutdown() // harmless after terminate
    }

    @Test func terminateWaitsForSocketsAndDeinitOrderIsSafe() throws {
        // Sockets keep their context alive, so dropping the context reference first is safe.
        var context: ZMQContext? = try ZMQContext(ioThreads: 2)
        let socket = try makeSocket(context!, .push)
        try socket.connect("tcp://127.0.0.1:9") // never connects; linger 0 drops the queue
        try socket.send("pending", flags: .dontWait)
        context = nil
        socket.close()
        socket.context.terminate()
        #expect(socket.context.isTerminated)
    }

    @Test func negativeIOThreadCountIsRejected() {
        #expect(throws: ZMQError(errno: EINVAL, operation: "zmq_ctx_set ZMQ_IO_THREADS -1")) {
            _ = try ZMQContext(ioThreads: -1)
        }
    }
}

private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    func set(_ value: String) { lock.withLock { stored = value } }
    var value: String? { lock.withLock { stored } }
}
