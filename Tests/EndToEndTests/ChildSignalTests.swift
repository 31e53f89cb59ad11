import Foundation
import NormTesting
import Testing

/// Every child a test starts can be stopped by a signal. Tests run on libdispatch worker threads,
/// which block every asynchronous signal, and Foundation's `Process` spawned its children with that
/// mask: a pyzmq flood sent SIGTERM ran on (SIGTERM pending, never delivered), reconnected to the
/// port its daemon had released and fed 1 000 messages to the next test's daemon given that port.
@Suite struct ChildSignalTests {
    /// `cat /proc/self/status` reports the masks it was started with: nothing blocked, and nothing
    /// ignored but glibc's two internal signals (32 and 33, SIGCANCEL and SIGSETXID), which glibc's
    /// `posix_spawn` leaves ignored in every child and glibc sets up again when it needs them.
    @Test func aChildStartsWithNoSignalBlockedOrIgnored() throws {
        let scratch = try ScratchDirectory()
        let cat = try Subprocess("status", executable: URL(fileURLWithPath: "/bin/cat"), arguments: ["/proc/self/status"], in: scratch.url)
        #expect(try cat.waitForExit(timeout: .seconds(30)) == 0)
        func mask(_ field: String) throws -> UInt64 {
            let line = try #require(cat.stdout.split(separator: "\n").first { $0.hasPrefix(field + ":\t") }, "\(cat.stdout)")
            return try #require(UInt64(line.dropFirst(field.count + 2), radix: 16), "\(line)")
        }
        let glibcInternal: UInt64 = 1 << (32 - 1) | 1 << (33 - 1)
        let blocked = try mask("SigBlk"), ignored = try mask("SigIgn")
        #expect(blocked == 0, "SigBlk \(String(blocked, radix: 16))")
        #expect(ignored & ~glibcInternal == 0, "SigIgn \(String(ignored, radix: 16))")
    }

    /// A python3 busy sending through pyzmq (to its own PULL, so no daemon is involved), started as
    /// background clients are, ends on SIGTERM by the signal's default action: its exit status is
    /// the signal's number.
    @Test func aBusyPyzmqSenderEndsOnSigterm() throws {
        let scratch = try ScratchDirectory()
        let busy = scratch.path("busy")
        let sender = try PythonScript.start(
            """
            import time, zmq
            c = zmq.Context()
            pull = c.socket(zmq.PULL); port = pull.bind_to_random_port('tcp://127.0.0.1')
            push = c.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 0); push.connect('tcp://127.0.0.1:%d' % port)
            rows = np.arange(64, dtype='<f4').reshape(16, 4)
            end = time.time() + 60
            sent = 0
            while time.time() < end:
                push.send_json({'dtype': '<f4', 'shape': [16, 4]}, zmq.SNDMORE); push.send(rows); pull.recv_multipart()
                sent += 1
                if sent == 100: open('\(busy)', 'w').close()
            """, name: "sender", in: scratch.url)
        _ = try waitFor("the sender to be busy", timeout: .seconds(30)) { FileManager.default.fileExists(atPath: busy) ? true : nil }
        sender.signal(SIGTERM)
        #expect(try sender.waitForExit(timeout: .seconds(20)) == SIGTERM, "\(sender.stderr)")
    }
}
