import Foundation
import NormTesting
import Testing

/// Issue 11 §2, revocation on the output: a consumer connected before its key was removed is cut
/// off at the reload, and the other consumers lose nothing — real pyzmq CURVE consumers on a PUSH
/// output, where a batch routed to the revoked consumer would be a batch an authorized one misses.
@Suite struct OutputRevocationTests {
    @Test func aRevokedConsumerIsDisconnectedAndTheAuthorizedOneGetsEveryLaterBatch() throws {
        let scratch = try ScratchDirectory()
        try CurveSecurityTests.makeKeys(in: scratch)
        try FileManager.default.copyItem(
            at: scratch.url.appendingPathComponent("keys/mallory.key"),
            to: scratch.url.appendingPathComponent("authorized/mallory.key"))
        let config = CurveSecurityTests.config(security: "admin: {listen: \"127.0.0.1:0\"}\n" + CurveSecurityTests.security)
        let daemon = try DaemonProcess.started(config: config, scratch: scratch)
        let input = try daemon.inputEndpoint(of: "sensors"), output = try daemon.outputEndpoint(of: "sensors")
        // Both consumers stay connected for the whole script: mallory was admitted before the reload.
        let result = try CurveSecurityTests.python(
            AdminTokenTests.http(try AdminHTTP(daemon).base) + """
                alice = curve(c.socket(zmq.PULL), 'alice'); alice.connect('\(output)')
                mallory = curve(c.socket(zmq.PULL), 'mallory'); mallory.connect('\(output)')
                time.sleep(1.0)  # both handshakes done before the first batch is routed
                send_batches('alice', '\(input)', 2)
                before = {'alice': receive(alice, 3000), 'mallory': receive(mallory, 1000)}
                os.remove('authorized/mallory.key')
                reload = call('POST', '/reload')
                time.sleep(1.0)  # the guard closes mallory's connection within 50 ms; mallory's reconnect is refused
                send_batches('alice', '\(input)', 4)
                after = {'alice': receive(alice, 5000), 'mallory': receive(mallory, 1000)}
                print(json.dumps({'before': before, 'after': after, 'reload': reload[0]}))
                """, in: scratch)
        let before = result["before"] as? [String: Any], after = result["after"] as? [String: Any]
        // PUSH round-robins: one batch each while both are authorized.
        #expect(CurveSecurityTests.normalized(before?["alice"], count: 1) && CurveSecurityTests.normalized(before?["mallory"], count: 1), "\(result)")
        #expect(result["reload"] as? Int == 200)
        #expect(CurveSecurityTests.normalized(after?["alice"], count: 4), "the authorized consumer missed batches: \(result)")
        #expect(CurveSecurityTests.normalized(after?["mallory"], count: 0), "the revoked consumer still receives: \(result)")
        try daemon.waitForCounts(of: "sensors", "auth_failures={revoked_key: 1, unknown_key: 1}") {
            $0["auth_failures"] == "{revoked_key: 1, unknown_key: 1}"
        }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(
            counts["batches"] == "6" && counts["rows_published"] == "96" && counts["batches_dropped"] == "0"
                && counts["auth_failures"] == "{revoked_key: 1, unknown_key: 1}", "\(counts)")
        let closed = try #require(daemon.logLines.first { $0.message?.hasPrefix("connection closed") == true }, "\(daemon.stderr)")
        let malloryKey = try String(contentsOf: scratch.url.appendingPathComponent("keys/mallory.key"), encoding: .utf8)
        let publicKey = try #require(malloryKey.split(separator: "\"").dropFirst().first)
        #expect(
            closed.message == "connection closed: client key \(publicKey.prefix(8))… is no longer in authorized_keys"
                && closed["reason"] == "revoked_key" && closed["peer"]?.hasPrefix("127.0.0.1:") == true && closed["pipeline"] == "sensors",
            "\(closed)")
    }
}
