import Foundation
import Testing
import ZeroMQ

@Suite("Errors")
struct ErrorTests {
    @Test(arguments: ["bogus://somewhere", "tcp://127.0.0.1", "tcp://127.0.0.1:notaport", "ipc://"])
    func bindingAnInvalidEndpointNamesIt(endpoint: String) throws {
        let context = try ZMQContext()
        let socket = try makeSocket(context, .pull)
        let error = try #require(throws: ZMQError.self) { try socket.bind(endpoint) }
        #expect([EINVAL, EPROTONOSUPPORT, ENODEV, ENOENT].contains(error.errno), "\(error)")
        #expect(error.operation == "bind \(endpoint)")
        #expect(error.description == "bind \(endpoint): \(error.message) (errno \(error.errno))")
    }

    @Test func unknownTransportIsProtocolNotSupported() throws {
        let context = try ZMQContext()
        let socket = try makeSocket(context, .push)
        let error = try #require(throws: ZMQError.self) { try socket.connect("bogus://x") }
        #expect(error == ZMQError(errno: EPROTONOSUPPORT, operation: "connect bogus://x"))
        #expect(error.description == "connect bogus://x: Protocol not supported (errno \(EPROTONOSUPPORT))")
    }

    @Test func bindingTheSamePortTwiceIsAddressInUse() throws {
        let context = try ZMQContext()
        let (first, endpoint) = try bindPullOnFreePort(context)
        defer { first.close() }
        let second = try makeSocket(context, .pull)
        let error = try #require(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error.errno == EADDRINUSE)
        #expect(error.description == "bind \(endpoint): Address already in use (errno \(EADDRINUSE))")
    }

    @Test func closedSocketThrowsNotSocketAndCloseIsIdempotent() throws {
        let context = try ZMQContext()
        let socket = try makeSocket(context, .push)
        socket.close()
        socket.close()
        #expect(socket.isClosed)
        let error = try #require(throws: ZMQError.self) { try socket.connect("inproc://x") }
        #expect(error.isClosedSocket)
        #expect(error.operation == "connect inproc://x")
    }

    @Test func outOfRangeOptionValueIsRejectedWithTheOptionName() throws {
        let context = try ZMQContext()
        let socket = try makeSocket(context, .push)
        let error = try #require(throws: ZMQError.self) { try socket.setLinger(milliseconds: Int.max) }
        #expect(error.errno == EINVAL)
        #expect(error.operation == "setsockopt ZMQ_LINGER \(Int.max)")
    }

    @Test func optionsReadBackWhatWasSet() throws {
        let context = try ZMQContext()
        let socket = try makeSocket(context, .push)
        try socket.setLinger(milliseconds: 250)
        try socket.setSendHighWaterMark(16)
        try socket.setReceiveHighWaterMark(32)
        try socket.setMaxMessageSize(1 << 33)
        try socket.setImmediate(true)
        try socket.setReconnectInterval(milliseconds: 50)
        try socket.setReconnectIntervalMax(milliseconds: 2000)
        try socket.setHeartbeatInterval(milliseconds: 1000)
        try socket.setHeartbeatTTL(milliseconds: 3000)
        try socket.setHeartbeatTimeout(milliseconds: 3000)
        try socket.setSendTimeout(milliseconds: 10)
        try socket.setReceiveTimeout(milliseconds: 10)
        try socket.setTCPKeepalive(true)
        #expect(try socket.linger == 250)
        #expect(try socket.sendHighWaterMark == 16)
        #expect(try socket.receiveHighWaterMark == 32)
        #expect(try socket.maxMessageSize == 1 << 33)

        let xpub = try makeSocket(context, .xpub)
        try xpub.setXPubNoDrop(true)
        let sub = try makeSocket(context, .sub)
        let error = try #require(throws: ZMQError.self) { try sub.setXPubNoDrop(true) }
        #expect(error.errno == EINVAL)
    }

    @Test func versionIsAtLeastFourThree() {
        let version = zmqVersion()
        #expect(version.major == 4)
        #expect(version.minor >= 3)
    }
}
