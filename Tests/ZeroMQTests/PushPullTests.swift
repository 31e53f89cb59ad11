import Testing
import ZeroMQ

@Suite("PUSH/PULL over tcp loopback")
struct PushPullTests {
    let header = Array(#"{"dtype":"<f4","shape":[128,128],"seq":7}"#.utf8)
    let payload = patternBytes(count: 64 * 1024)

    @Test func wildcardBindReportsTheRealPort() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        defer { pull.close() }
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = Int(endpoint.dropFirst("tcp://127.0.0.1:".count))
        #expect(port != nil && port! > 0)
    }

    /// `withUnsafeFrameBuffers` yields every frame's bytes, in order, and their total inside its closure.
    @Test func frameBuffersAreYieldedToAClosure() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        try pull.setReceiveTimeout(milliseconds: 5000)
        let push = try makeSocket(context, .push)
        try push.connect(endpoint)
        #expect(try push.sendMultipart([header, [], payload]))

        var parts = ZMQMultipart()
        #expect(try pull.receiveMultipart(into: &parts))
        let (frames, total) = parts.withUnsafeFrameBuffers { frames, total in (frames.map { Array($0) }, total) }
        #expect(frames == [header, [], payload])
        #expect(total == header.count + payload.count)
        // A longer message into the same container (more frames than it had objects for), then a
        // shorter one: each time exactly the current message's frames.
        let many = (0..<40).map { [UInt8](repeating: UInt8($0), count: $0 * 7) }
        #expect(try push.sendMultipart(many))
        #expect(try pull.receiveMultipart(into: &parts))
        let (manyFrames, manyTotal) = parts.withUnsafeFrameBuffers { frames, total in (frames.map { Array($0) }, total) }
        #expect(manyFrames == many)
        #expect(manyTotal == many.reduce(0) { $0 + $1.count })
        #expect(try push.sendMultipart([payload]))
        #expect(try pull.receiveMultipart(into: &parts))
        let (oneFrame, oneTotal) = parts.withUnsafeFrameBuffers { frames, total in (frames.map { Array($0) }, total) }
        #expect(oneFrame == [payload])
        #expect(oneTotal == payload.count)
        push.close()
        pull.close()
    }

    @Test func multipartFramesArriveByteExactWithReceiveMore() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        try pull.setReceiveTimeout(milliseconds: 5000)
        let push = try makeSocket(context, .push)
        try push.connect(endpoint)

        #expect(try push.send(header, more: true))
        #expect(try push.send(payload, more: false))

        let first = ZMQMessage()
        #expect(try pull.receive(into: first))
        #expect(first.bytes == header)
        #expect(first.more)
        #expect(try pull.receiveMore)

        let second = ZMQMessage()
        #expect(try pull.receive(into: second))
        #expect(second.size == 64 * 1024)
        #expect(second.bytes == payload)
        #expect(!second.more)
        #expect(try !pull.receiveMore)

        push.close()
        pull.close()
        context.terminate()
    }

    @Test func sendMultipartAndReceiveMultipartRoundTrip() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        try pull.setReceiveTimeout(milliseconds: 5000)
        let push = try makeSocket(context, .push)
        try push.connect(endpoint)

        #expect(try push.sendMultipart([header, payload]))
        var parts = ZMQMultipart()
        #expect(try pull.receiveMultipart(into: &parts))
        #expect(parts.map(\.bytes) == [header, payload])
        #expect(parts.map(\.more) == [true, false])
    }

    @Test func zeroCopySendEmptiesTheMessage() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        try pull.setReceiveTimeout(milliseconds: 5000)
        let push = try makeSocket(context, .push)
        try push.connect(endpoint)

        let headerMessage = try ZMQMessage(copying: header)
        let payloadMessage = try ZMQMessage(size: payload.count)
        payloadMessage.withUnsafeMutableBytes { $0.copyBytes(from: payload) }
        #expect(try push.sendMultipart([headerMessage, payloadMessage]))
        #expect(headerMessage.size == 0)
        #expect(payloadMessage.size == 0)

        var parts = ZMQMultipart()
        #expect(try pull.receiveMultipart(into: &parts))
        #expect(parts.map(\.bytes) == [header, payload])
    }

    @Test func nonBlockingReceiveOnAnEmptyQueueReportsNothing() throws {
        let context = try ZMQContext()
        let (pull, _) = try bindPullOnFreePort(context)
        let message = ZMQMessage()
        #expect(try !pull.receive(into: message, flags: .dontWait))
        var parts = ZMQMultipart()
        try parts.append(copying: "stale")
        #expect(try !pull.receiveMultipart(into: &parts, flags: .dontWait))
        #expect(parts.isEmpty)
        #expect(try pull.receive(flags: .dontWait) == nil)
    }
}
