import Foundation
import Synchronization
import Testing
import ZeroMQ

/// Bytes lent to libzmq: the owner holds the allocation (freed only in its `deinit`, so never while
/// libzmq may still read it) and counts how often libzmq said it was done with them.
/// `@unchecked Sendable`: the bytes are written once, before they are lent, and only read after.
private final class LentBytes: ZMQMessageOwner, @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
    private let releases = Atomic<Int>(0)

    init(pattern: [UInt8]) {
        bytes = .allocate(byteCount: pattern.count, alignment: 16)
        bytes.copyBytes(from: pattern)
    }

    deinit { bytes.deallocate() }

    var view: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }
    var released: Int { releases.load(ordering: .sequentiallyConsistent) }

    func bytesReleased() { releases.add(1, ordering: .sequentiallyConsistent) }
}

/// Polls `condition` for up to `seconds` (libzmq releases from its I/O thread, a moment after the
/// write that let the peer receive).
private func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        Thread.sleep(forTimeInterval: 0.002)
    }
    return true
}

@Suite("Frames sent without a copy (zmq_msg_init_data)")
struct BorrowedFrameTests {
    let header = Array(#"{"dtype":"<f4","shape":[64,16]}"#.utf8)

    /// inproc hands the `zmq_msg_t` itself to the receiver, so the received frame *is* the lent
    /// memory — the proof that nothing was copied — and the loan ends when the receiver closes it.
    @Test func inprocReceiverSeesTheLentBytesThemselvesAndEndsTheLoan() throws {
        let context = try ZMQContext()
        let pull = try makeSocket(context, .pull)
        try pull.bind("inproc://borrowed-frames")
        try pull.setReceiveTimeout(milliseconds: 5000)
        let push = try makeSocket(context, .push)
        try push.connect("inproc://borrowed-frames")
        let owner = LentBytes(pattern: patternBytes(count: 16 * 1024))

        #expect(try push.send(ZMQMessage(borrowing: owner.view, owner: owner)))
        let received = ZMQMessage()
        #expect(try pull.receive(into: received))
        #expect(received.bytes == patternBytes(count: 16 * 1024))
        let receivedAddress: UnsafeRawPointer? = received.withUnsafeBytes { $0.baseAddress }
        #expect(receivedAddress == owner.view.baseAddress)
        #expect(owner.released == 0, "the receiver still holds the frame")
        try received.reset(size: 0)
        #expect(owner.released == 1)
        push.close()
        pull.close()
        context.terminate()
        #expect(owner.released == 1)
    }

    @Test func tcpReleasesEachFrameOnceAfterThePeerReceivedIt() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try bindPullOnFreePort(context)
        try pull.setReceiveTimeout(milliseconds: 5000)
        let push = try makeSocket(context, .push)
        try push.connect(endpoint)
        let owners = (0..<3).map { LentBytes(pattern: patternBytes(count: 64 * 1024, seed: UInt8($0))) }
        let payload = ZMQMessage() // one object reused for every frame, as a sink does
        for owner in owners {
            #expect(try push.send(header, more: true))
            try payload.reset(borrowing: owner.view, owner: owner)
            #expect(try push.send(payload))
        }
        var parts = ZMQMultipart()
        for (index, owner) in owners.enumerated() {
            #expect(try pull.receiveMultipart(into: &parts))
            #expect(parts.map(\.bytes) == [header, patternBytes(count: 64 * 1024, seed: UInt8(index))])
            #expect(eventually { owner.released == 1 }, "frame \(index) not released after it was received")
        }
        push.close()
        pull.close()
        context.terminate()
        #expect(owners.map(\.released) == [Int](repeating: 1, count: 3))
    }

    @Test func aRefusedSendKeepsTheLoanUntilTheMessageIsResetOrGone() throws {
        let context = try ZMQContext()
        let push = try makeSocket(context, .push) // no peer: a non-blocking send is refused
        let reused = LentBytes(pattern: patternBytes(count: 4096))
        let message = try ZMQMessage(borrowing: reused.view, owner: reused)
        #expect(try !push.send(message, flags: .dontWait))
        #expect(reused.released == 0)
        #expect(message.size == 4096, "a refused message keeps its content")
        try message.reset(size: 0)
        #expect(reused.released == 1)

        let dropped = LentBytes(pattern: patternBytes(count: 4096, seed: 3))
        do {
            let message = try ZMQMessage(borrowing: dropped.view, owner: dropped)
            #expect(try !push.send(message, flags: .dontWait))
        }
        #expect(dropped.released == 1, "deinit of the refused message ended the loan")
        push.close()
        context.terminate()
        #expect(reused.released == 1 && dropped.released == 1)
    }

    /// PUB with no subscriber drops every message inside the send call.
    @Test func pubWithoutSubscribersReleasesInsideTheSend() throws {
        let context = try ZMQContext()
        let pub = try makeSocket(context, .pub)
        try pub.bind("inproc://borrowed-pub")
        let owner = LentBytes(pattern: patternBytes(count: 8192))
        #expect(try pub.send(ZMQMessage(borrowing: owner.view, owner: owner)))
        #expect(owner.released == 1)
        pub.close()
        context.terminate()
        #expect(owner.released == 1)
    }

    /// XPUB with no-drop refuses a send when the subscriber's queue is full; every frame it took is
    /// still queued (pipes, engine, kernel buffers) when both sockets close with linger 0 and the
    /// context terminates — and each is released exactly once by then.
    @Test func xpubNoDropRefusalAndTerminationWithFramesQueued() throws {
        let context = try ZMQContext()
        let xpub = try makeSocket(context, .xpub)
        try xpub.setXPubNoDrop(true)
        try xpub.setSendHighWaterMark(2)
        try xpub.bind("tcp://127.0.0.1:*")
        try xpub.setReceiveTimeout(milliseconds: 5000)
        let sub = try makeSocket(context, .sub)
        try sub.setReceiveHighWaterMark(2)
        try sub.subscribe("")
        try sub.connect(try xpub.lastEndpoint)
        #expect(try xpub.receive() == [1], "the subscription reached the publisher")

        let owner = LentBytes(pattern: patternBytes(count: 64 * 1024))
        let message = ZMQMessage()
        var accepted = 0
        var refused = false
        while !refused && accepted < 100_000 {
            try message.reset(borrowing: owner.view, owner: owner)
            if try xpub.send(message, flags: .dontWait) { accepted += 1 } else { refused = true }
        }
        #expect(refused, "the subscriber's queue never filled")
        #expect(accepted >= 2)
        try message.reset(size: 0)
        sub.close()
        xpub.close()
        context.terminate()
        #expect(owner.released == accepted + 1, "every frame, sent or refused, released exactly once")
    }
}
