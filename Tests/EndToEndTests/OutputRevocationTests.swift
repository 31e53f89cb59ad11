import Foundation
import NormTesting
import Testing

/// Issue 11 §2, revocation on the output: a consumer connected before its key was removed is cut
/// off at the reload, and the other consumers lose nothing — real pyzmq CURVE consumers on a PUSH
/// output, where a batch routed to the revoked consumer would be a batch an authorized one misses.
@Suite struct OutputRevocationTests {
    @Test func aRevokedConsumerIsDisconnectedAndTheAuthorizedOneGetsEveryLaterBatch() throws {
        let (scratch, daemon) = try Self.daemonWithMalloryAuthorized()
        let input = try daemon.inputEndpoint(of: "sensors"), output = try daemon.outputEndpoint(of: "sensors")
        // Both consumers stay connected for the whole script: mallory was admitted before the reload.
        let result = try CurveSecurityTests.python(
            AdminTokenTests.http(try AdminHTTP(daemon).base) + """
                alice = curve(c.socket(zmq.PULL), 'alice'); alice.connect('\(output)')
                # One handshake after the other: overlapping ones are closed together on a revocation
                # (the next test), and this one checks that the other consumers lose nothing.
                time.sleep(0.5)
                mallory = curve(c.socket(zmq.PULL), 'mallory'); mallory.connect('\(output)')
                time.sleep(1.0)  # both handshakes done before the first batch is routed
                """ + Self.revokeMalloryAndSend(input: input), in: scratch)
        try Self.expectMalloryCutOff(result, daemon: daemon, authFailures: "{revoked_key: 1, unknown_key: 1}")
        let closed = try #require(daemon.logLines.first { $0.message?.hasPrefix("connection closed") == true }, "\(daemon.stderr)")
        let malloryKey = try String(contentsOf: scratch.url.appendingPathComponent("keys/mallory.key"), encoding: .utf8)
        let publicKey = try #require(malloryKey.split(separator: "\"").dropFirst().first)
        #expect(
            closed.message == "connection closed: client key \(publicKey.prefix(8))… is no longer in authorized_keys"
                && closed["reason"] == "revoked_key" && closed["peer"]?.hasPrefix("127.0.0.1:") == true && closed["pipeline"] == "sensors",
            "\(closed)")
    }

    /// The guard books a ZAP decision to the oldest accepted connection awaiting one (the request
    /// names no descriptor). Mallory's connection is accepted first but its greeting stalls (a relay
    /// holds its bytes for 0.5 s) while alice connects and completes her handshake, so alice's key
    /// was booked on mallory's connection and mallory's on alice's: the revocation closed alice's
    /// and mallory went on receiving (seen once in the full suite on a loaded machine). Connections
    /// whose handshakes overlapped now share their keys: a revoked key closes all of them, and the
    /// authorized one reconnects.
    @Test func aRevokedConsumerWhoseHandshakeOverlappedAnotherIsStillCutOff() throws {
        let (scratch, daemon) = try Self.daemonWithMalloryAuthorized()
        let input = try daemon.inputEndpoint(of: "sensors"), output = try daemon.outputEndpoint(of: "sensors")
        let outputPort = try #require(output.split(separator: ":").last)
        let result = try CurveSecurityTests.python(
            AdminTokenTests.http(try AdminHTTP(daemon).base) + """
                import socket, threading
                # A TCP relay in front of the output: the first connection's client bytes wait for
                # `release`, later ones pass at once (mallory's reconnect must reach the daemon).
                release = threading.Event()
                listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen(4)
                def pump(source, sink, gate):
                    if gate is not None: gate.wait()
                    try:
                        while True:
                            data = source.recv(65536)
                            if not data: break
                            sink.sendall(data)
                    except OSError: pass
                    for s in (sink, source):
                        try: s.shutdown(socket.SHUT_RDWR)
                        except OSError: pass
                def relay():
                    first = True
                    while True:
                        try: down, _ = listener.accept()
                        except OSError: return
                        up = socket.create_connection(('127.0.0.1', \(outputPort)))
                        gate = release if first else None
                        first = False
                        threading.Thread(target=pump, args=(down, up, gate), daemon=True).start()
                        threading.Thread(target=pump, args=(up, down, None), daemon=True).start()
                threading.Thread(target=relay, daemon=True).start()
                mallory = curve(c.socket(zmq.PULL), 'mallory'); mallory.connect('tcp://127.0.0.1:%d' % listener.getsockname()[1])
                time.sleep(0.5)  # the relay's connection to the daemon is accepted; mallory's greeting waits
                alice = curve(c.socket(zmq.PULL), 'alice'); alice.connect('\(output)')
                time.sleep(0.5)  # alice's handshake is done
                release.set()
                time.sleep(1.0)  # mallory's handshake is done
                """ + Self.revokeMalloryAndSend(input: input), in: scratch)
        // Both overlapped connections closed; alice's reconnect admitted, mallory's refused.
        try Self.expectMalloryCutOff(result, daemon: daemon, authFailures: "{revoked_key: 2, unknown_key: 1}")
    }

    /// Python (after `alice` and `mallory` are connected PULL consumers): two batches, mallory's key
    /// removed and a reload, four more batches; prints what each consumer got before and after.
    /// Starts with a line break: the caller's literal ends without one.
    static func revokeMalloryAndSend(input: String) -> String {
        """

        send_batches('alice', '\(input)', 2)
        before = {'alice': receive(alice, 3000), 'mallory': receive(mallory, 1000)}
        os.remove('authorized/mallory.key')
        reload = call('POST', '/reload')
        time.sleep(1.0)  # the guard closes within 50 ms; a reconnect under mallory's key is refused
        send_batches('alice', '\(input)', 4)
        after = {'alice': receive(alice, 5000), 'mallory': receive(mallory, 1000)}
        print(json.dumps({'before': before, 'after': after, 'reload': reload[0]}))
        """
    }

    /// PUSH round-robins one batch to each while both are authorized; after the reload alice gets all
    /// four and mallory none; `authFailures` is counted, and the daemon stops with every batch sent.
    static func expectMalloryCutOff(_ result: [String: Any], daemon: DaemonProcess, authFailures: String) throws {
        let before = result["before"] as? [String: Any], after = result["after"] as? [String: Any]
        #expect(CurveSecurityTests.normalized(before?["alice"], count: 1) && CurveSecurityTests.normalized(before?["mallory"], count: 1), "\(result)")
        #expect(result["reload"] as? Int == 200)
        #expect(CurveSecurityTests.normalized(after?["alice"], count: 4), "the authorized consumer missed batches: \(result)")
        #expect(CurveSecurityTests.normalized(after?["mallory"], count: 0), "the revoked consumer still receives: \(result)")
        try daemon.waitForCounts(of: "sensors", "auth_failures=\(authFailures)") { $0["auth_failures"] == authFailures }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(
            counts["batches"] == "6" && counts["rows_published"] == "96" && counts["batches_dropped"] == "0"
                && counts["auth_failures"] == authFailures, "\(counts)")
    }

    /// A daemon with CURVE on, an admin endpoint, and mallory's key among the authorized ones.
    static func daemonWithMalloryAuthorized() throws -> (ScratchDirectory, DaemonProcess) {
        let scratch = try ScratchDirectory()
        try CurveSecurityTests.makeKeys(in: scratch)
        try FileManager.default.copyItem(
            at: scratch.url.appendingPathComponent("keys/mallory.key"),
            to: scratch.url.appendingPathComponent("authorized/mallory.key"))
        let config = CurveSecurityTests.config(security: "admin: {listen: \"127.0.0.1:0\"}\n" + CurveSecurityTests.security)
        return (scratch, try DaemonProcess.started(config: config, scratch: scratch))
    }
}
