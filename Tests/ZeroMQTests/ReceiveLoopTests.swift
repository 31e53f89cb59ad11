import Testing
import ZeroMQ

@Suite("Warm receive loop")
struct ReceiveLoopTests {
    @Test func tenThousandMessagesReuseTheSameFrameObjects() throws {
        let count = 10_000
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        try pull.setReceiveTimeout(milliseconds: 5000)

        let sender = TestThread {
            let push = try ZMQSocket(context: context, type: .push)
            defer { push.close() }
            try push.setLinger(milliseconds: 5000)
            try push.connect(endpoint)
            // Reused outgoing messages: refilled, then moved to libzmq by each send.
            let sequence = ZMQMessage()
            let body = ZMQMessage()
            for index in 0..<count {
                var little = UInt64(index).littleEndian
                try withUnsafeBytes(of: &little) { try sequence.reset(copying: $0) }
                try body.reset(size: 16)
                body.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: index)) }
                try push.sendMultipart([sequence, body])
            }
        }

        var parts = ZMQMultipart(reservingCapacity: 2)
        var identities: [ObjectIdentifier] = []
        var mismatches = 0
        for index in 0..<count {
            guard try pull.receiveMultipart(into: &parts) else {
                Issue.record("timed out at message \(index)")
                break
            }
            if identities.isEmpty { identities = parts.map(ObjectIdentifier.init) }
            let sequence = parts[0].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }
            let bodyOK = parts[1].withUnsafeBytes { bytes in
                bytes.count == 16 && bytes.allSatisfy { $0 == UInt8(truncatingIfNeeded: index) }
            }
            if parts.count != 2 || sequence != UInt64(index) || !bodyOK
                || parts.map(ObjectIdentifier.init) != identities
            {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
        #expect(try sender.join())
    }
}
