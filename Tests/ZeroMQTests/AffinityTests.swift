import Foundation
import Testing
import ZeroMQ

@Suite("ZMQ_AFFINITY")
struct AffinityTests {
    /// The mask is what libzmq stores (0 by default: it picks the least loaded I/O thread), and a
    /// socket pinned to I/O thread 1 of a two-thread context still carries messages.
    @Test func theMaskIsKeptAndAPinnedSocketCarriesMessages() throws {
        let context = try ZMQContext(ioThreads: 2)
        let pull = try makeSocket(context, .pull)
        #expect(try pull.affinity == 0)
        try pull.setAffinity(ioThreadMask: 0b10)
        #expect(try pull.affinity == 0b10)
        try pull.bind("tcp://127.0.0.1:*")
        let push = try makeSocket(context, .push)
        try push.setAffinity(ioThreadMask: 0b01)
        try push.connect(try pull.lastEndpoint)
        try push.send("over two I/O threads")
        try pull.setReceiveTimeout(milliseconds: 5000)
        #expect(try pull.receive().map { String(decoding: $0, as: UTF8.self) } == "over two I/O threads")
    }
}
