import Foundation
import NormTesting
import Testing

/// Issue 11: CURVE on every socket with normd's ZAP allow-list — the built `normd run` against
/// real pyzmq clients whose keys come from `zmq.auth.create_certificates`, the tool users reach for.
@Suite struct CurveSecurityTests {
    /// Keys in `scratch/keys` (server, alice, mallory; pyzmq's zcert files), `scratch/authorized`
    /// holding alice's public key only, and the server's secret file made 0600.
    static func makeKeys(in scratch: ScratchDirectory, secretMode: String = "0o600") throws {
        _ = try PythonScript.run(
            """
            import os, shutil, zmq.auth
            os.makedirs('keys'); os.makedirs('authorized')
            for name in ['server', 'alice', 'mallory']:
                zmq.auth.create_certificates('keys', name)
            shutil.copy('keys/alice.key', 'authorized/alice.key')
            os.chmod('keys/server.key_secret', \(secretMode))
            """, in: scratch.url)
    }

    static let security = """
        security:
          curve:
            secret_key_file: keys/server.key_secret
            authorized_keys: authorized

        """

    /// One min_max pipeline: 16 rows `4i + j` normalize to exactly `i / 15` in train mode, so a
    /// batch that arrives can be checked value by value.
    static func config(security: String = security, output: String? = nil) -> String {
        var pipeline = PipelineYAML()
        pipeline.stages = ["{type: min_max, feature_range: [0, 1]}"]
        if let output { pipeline.output = output }
        return security + PipelineYAML.config(pipeline)
    }

    /// Python defining `curve(socket, name)`: makes `socket` a CURVE client with `keys/<name>`'s
    /// pair (or leaves it plain for `None`), trusting the daemon's `keys/server.key`.
    static let clientPrelude = """
        import zmq, zmq.auth, time
        def curve(s, name):
            if name is None: return s
            pub, sec = zmq.auth.load_certificate('keys/%s.key_secret' % name)
            server, _ = zmq.auth.load_certificate('keys/server.key')
            s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = server
            return s
        c = zmq.Context()
        # LINGER 15 s: connect() queues at once and close() drops what the CURVE handshake has not let
        # through by then; 3 s lost a fresh-clone CI run's only batch on a loaded machine.
        def send_batches(name, endpoint, batches, scale=1):
            p = curve(c.socket(zmq.PUSH), name); p.setsockopt(zmq.LINGER, 15000); p.connect(endpoint)
            rows = np.arange(64, dtype='<f4').reshape(16, 4) * scale
            for _ in range(batches):
                p.send(json.dumps({'dtype': '<f4', 'shape': [16, 4]}).encode(), zmq.SNDMORE); p.send(rows)
            p.close()
        def receive(s, timeout_ms):
            s.RCVTIMEO = timeout_ms
            got = []
            while True:
                try: frames = s.recv_multipart()
                except zmq.Again: return got
                h = json.loads(frames[0])
                got.append(np.frombuffer(frames[1], h['dtype']).reshape(h['shape']).tolist())

        """

    /// Runs `body` (after ``clientPrelude``) in the scratch directory; its last line must print JSON.
    static func python(_ body: String, in scratch: ScratchDirectory) throws -> [String: Any] {
        let output = try PythonScript.run(clientPrelude + body, in: scratch.url)
        let last = try #require(output.split(separator: "\n").last, "no output from python")
        return try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(output)")
    }

    /// Whether `batches` are `count` batches of what ``config()`` makes of the 16 rows `4i + j`:
    /// row i is i/15 in every column (to Float32 rounding).
    static func normalized(_ batches: Any?, count: Int) -> Bool {
        guard let batches = batches as? [[[Double]]], batches.count == count else { return false }
        return batches.allSatisfy { batch in
            batch.count == 16
                && batch.enumerated().allSatisfy { i, row in
                    row.count == 4 && row.allSatisfy { abs($0 - Double(i) / 15) < 1e-6 }
                }
        }
    }

    static func started(_ scratch: ScratchDirectory, config: String = config()) throws -> DaemonProcess {
        try makeKeys(in: scratch)
        return try DaemonProcess.started(config: config, scratch: scratch)
    }

    @Test func authorizedProducerAndConsumerGetNormalizedRowsAndAnUnlistedConsumerGetsNothing() throws {
        let scratch = try ScratchDirectory()
        let daemon = try Self.started(scratch)
        let result = try Self.python(
            """
            good = curve(c.socket(zmq.PULL), 'alice'); good.connect('\(try daemon.outputEndpoint(of: "sensors"))')
            bad = curve(c.socket(zmq.PULL), 'mallory'); bad.connect('\(try daemon.outputEndpoint(of: "sensors"))')
            time.sleep(1.0)  # both handshakes done (or refused) before the first batch is routed
            send_batches('alice', '\(try daemon.inputEndpoint(of: "sensors"))', 2)
            print(json.dumps({'good': receive(good, 5000), 'bad': receive(bad, 1000)}))
            """, in: scratch)
        #expect(Self.normalized(result["good"], count: 2), "\(result)")
        #expect(Self.normalized(result["bad"], count: 0), "an unlisted consumer received: \(result)")
        try daemon.waitForCounts(of: "sensors", "auth_failures={unknown_key: 1}") { $0["auth_failures"] == "{unknown_key: 1}" }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(
            counts["rows_accepted"] == "32" && counts["batches"] == "2" && counts["auth_failures"] == "{unknown_key: 1}"
                && counts["connections_refused"] == "0", "\(counts)")
        let refusal = try #require(daemon.logLines.first { $0.message?.hasPrefix("connection refused") == true }, "\(daemon.stderr)")
        let malloryPublic = try String(contentsOf: scratch.url.appendingPathComponent("keys/mallory.key"), encoding: .utf8)
        let publicKey = try #require(malloryPublic.split(separator: "\"").dropFirst().first, "\(malloryPublic)")
        #expect(
            refusal.message == "connection refused: client key \(publicKey.prefix(8))… is not in authorized_keys"
                && refusal["reason"] == "unknown_key" && refusal["peer"]?.hasPrefix("127.0.0.1:") == true
                && refusal["pipeline"] == "sensors", "\(refusal)")
        let mallory = try String(contentsOf: scratch.url.appendingPathComponent("keys/mallory.key_secret"), encoding: .utf8)
        let secret = try #require(mallory.split(separator: "\"").dropFirst(3).first, "\(mallory)") // secret-key's value
        #expect(!daemon.stderr.contains(secret), "a secret key reached the log")
    }

    @Test func unlistedProducerContributesNoRow() throws {
        let scratch = try ScratchDirectory()
        let daemon = try Self.started(scratch)
        _ = try Self.python(
            """
            send_batches('mallory', '\(try daemon.inputEndpoint(of: "sensors"))', 3, scale=-10)
            print('{}')
            """, in: scratch)
        try daemon.waitForCounts(of: "sensors", "auth_failures={unknown_key: 1}") { $0["auth_failures"] == "{unknown_key: 1}" }
        // Then an authorized producer: its batch normalizes to i/15 only if the min/max statistics
        // hold its rows alone — one of mallory's rows (down to -630) would have moved the minimum.
        let result = try Self.python(
            """
            good = curve(c.socket(zmq.PULL), 'alice'); good.connect('\(try daemon.outputEndpoint(of: "sensors"))')
            send_batches('alice', '\(try daemon.inputEndpoint(of: "sensors"))', 1)
            print(json.dumps({'good': receive(good, 10000)}))
            """, in: scratch)
        #expect(Self.normalized(result["good"], count: 1), "\(result)")
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts["messages_accepted"] == "1" && counts["rows_accepted"] == "16" && counts["messages_rejected"] == "0", "\(counts)")
        #expect(counts["auth_failures"] == "{unknown_key: 1}", "\(counts)")
    }

    /// With the admin server on, refusals are `normd_auth_failures_total{pipeline,reason}`, every reason registered at 0.
    @Test func authFailuresAreExportedAsAMetric() throws {
        let scratch = try ScratchDirectory()
        let daemon = try Self.started(scratch, config: Self.config(security: "admin: {listen: \"127.0.0.1:0\"}\n" + Self.security))
        _ = try Self.python(
            """
            send_batches('mallory', '\(try daemon.inputEndpoint(of: "sensors"))', 1)
            print('{}')
            """, in: scratch)
        try daemon.waitForCounts(of: "sensors", "auth_failures={unknown_key: 1}") { $0["auth_failures"] == "{unknown_key: 1}" }
        let metrics = try AdminHTTP(daemon).metrics().filter { $0.key.hasPrefix("normd_auth_failures_total") }
        #expect(
            metrics == [
                "normd_auth_failures_total{pipeline=\"sensors\",reason=\"unknown_key\"}": 1,
                "normd_auth_failures_total{pipeline=\"sensors\",reason=\"address_denied\"}": 0,
                "normd_auth_failures_total{pipeline=\"sensors\",reason=\"revoked_key\"}": 0,
            ], "\(metrics)")
        #expect(try daemon.terminate() == 0)
    }

    @Test func aListedKeyFromAnAddressNotInAllowIPsIsRefused() throws {
        let scratch = try ScratchDirectory()
        let daemon = try Self.started(scratch, config: Self.config(security: Self.security + "    allow_ips: [10.9.9.9]\n"))
        _ = try Self.python(
            """
            send_batches('alice', '\(try daemon.inputEndpoint(of: "sensors"))', 1)
            print('{}')
            """, in: scratch)
        try daemon.waitForCounts(of: "sensors", "auth_failures={address_denied: 1}") { $0["auth_failures"] == "{address_denied: 1}" }
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(
            counts["messages_accepted"] == "0" && counts["rows_accepted"] == "0" && counts["auth_failures"] == "{address_denied: 1}",
            "\(counts)")
        let refusal = try #require(daemon.logLines.first { $0["reason"] == "address_denied" }, "\(daemon.stderr)")
        #expect(refusal.message?.hasPrefix("connection refused: address 127.0.0.1 is not in allow_ips (key ") == true, "\(refusal)")
    }

    /// `curve_server_key`: normd's output connects to a consumer that is itself a CURVE server
    /// (bound by pyzmq with its own key pair), as that server's CURVE client with the daemon's keys.
    @Test func aConnectingOutputWithCurveServerKeyIsAClientOfThatServer() throws {
        let scratch = try ScratchDirectory()
        try Self.makeKeys(in: scratch)
        let ready = scratch.url.appendingPathComponent("port").path
        let consumer = try PythonScript.start(
            Self.clientPrelude + """
                import os
                s = c.socket(zmq.PULL)
                pub, sec = zmq.auth.load_certificate('keys/mallory.key_secret')  # the upstream server's own pair
                s.curve_server = True; s.curve_secretkey = sec; s.curve_publickey = pub
                port = s.bind_to_random_port('tcp://127.0.0.1')
                open('port.tmp', 'w').write(str(port)); os.rename('port.tmp', 'port')
                s.RCVTIMEO = 15000
                try:
                    f = s.recv_multipart(); h = json.loads(f[0])
                    got = [np.frombuffer(f[1], h['dtype']).reshape(h['shape']).tolist()] + receive(s, 500)
                except zmq.Again:
                    got = []
                open('received.json', 'w').write(json.dumps({'got': got}))
                """, name: "consumer", in: scratch.url)
        let port = try waitFor("the consumer's port", timeout: .seconds(15)) { try? String(contentsOfFile: ready, encoding: .utf8) }
        let daemon = try DaemonProcess.started(
            config: Self.config(
                output: "{endpoint: \"tcp://127.0.0.1:\(port)\", socket: push, bind: false, codec: tensor, curve_server_key: keys/mallory.key}"),
            scratch: scratch)
        // The harness's inputEndpoint(of:) also wants an "output bound" line; this output connects.
        let input = try #require(daemon.logLines.first { $0.message == "input bound" }?["endpoint"], "\(daemon.stderr)")
        _ = try Self.python(
            """
            send_batches('alice', '\(input)', 1)
            print('{}')
            """, in: scratch)
        try daemon.waitForCounts(of: "sensors", "batches=1") { $0.int("batches") == 1 }
        #expect(try consumer.waitForExit(timeout: .seconds(60)) == 0, "\(consumer.stderr)")
        let received = try String(contentsOf: scratch.url.appendingPathComponent("received.json"), encoding: .utf8)
        let result = try JSONSerialization.jsonObject(with: Data(received.utf8)) as? [String: Any]
        #expect(Self.normalized(result?["got"], count: 1), "\(received)")
        #expect(try daemon.terminate() == 0)
    }

    @Test func plainClientGetsNothingAndTheDaemonStaysHealthy() throws {
        let scratch = try ScratchDirectory()
        let daemon = try Self.started(scratch)
        let result = try Self.python(
            """
            plain = curve(c.socket(zmq.PULL), None); plain.connect('\(try daemon.outputEndpoint(of: "sensors"))')
            send_batches(None, '\(try daemon.inputEndpoint(of: "sensors"))', 2)
            good = curve(c.socket(zmq.PULL), 'alice'); good.connect('\(try daemon.outputEndpoint(of: "sensors"))')
            time.sleep(0.5)
            send_batches('alice', '\(try daemon.inputEndpoint(of: "sensors"))', 1)
            print(json.dumps({'good': receive(good, 10000), 'plain': receive(plain, 1000)}))
            """, in: scratch)
        #expect(Self.normalized(result["good"], count: 1), "\(result)")
        #expect(Self.normalized(result["plain"], count: 0), "\(result)")
        #expect(daemon.isRunning)
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        #expect(counts["messages_accepted"] == "1" && counts["rows_accepted"] == "16" && counts["batches"] == "1", "\(counts)")
    }

    @Test func worldReadableSecretKeyRefusesToStart() throws {
        let scratch = try ScratchDirectory()
        try Self.makeKeys(in: scratch, secretMode: "0o644")
        let daemon = try DaemonProcess(config: Self.config(), scratch: scratch)
        #expect(try daemon.waitForExit() == 78)
        let path = scratch.url.appendingPathComponent("keys/server.key_secret").path
        #expect(
            daemon.stderr.contains("secret key file \(path) is accessible by group or others (mode 644); run chmod 600 \(path)"),
            "\(daemon.stderr)")
    }

    @Test func keygenKeysWorkWithPyzmq() throws {
        let scratch = try ScratchDirectory()
        try Self.makeKeys(in: scratch)
        // The daemon's own pair and a client's, both from `normd keygen`, replacing pyzmq's.
        for name in ["server", "alice"] {
            for suffix in [".key", ".key_secret"] {
                try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("keys/\(name)\(suffix)"))
            }
            let keygen = try Subprocess("keygen", executable: Normd.binary, arguments: ["keygen", name, "--dir", "keys"], in: scratch.url)
            #expect(try keygen.waitForExit(timeout: .seconds(15)) == 0)
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch.url.appendingPathComponent("keys/server.key_secret").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("authorized/alice.key"))
        try FileManager.default.copyItem(
            at: scratch.url.appendingPathComponent("keys/alice.key"),
            to: scratch.url.appendingPathComponent("authorized/alice.key"))
        let again = try Subprocess("keygen-again", executable: Normd.binary, arguments: ["keygen", "alice", "--dir", "keys"], in: scratch.url)
        #expect(try again.waitForExit(timeout: .seconds(15)) == 73)
        let daemon = try DaemonProcess.started(config: Self.config(), scratch: scratch)
        let result = try Self.python(
            """
            good = curve(c.socket(zmq.PULL), 'alice'); good.connect('\(try daemon.outputEndpoint(of: "sensors"))')
            send_batches('alice', '\(try daemon.inputEndpoint(of: "sensors"))', 1)
            print(json.dumps({'good': receive(good, 10000)}))
            """, in: scratch)
        #expect(Self.normalized(result["good"], count: 1), "\(result)")
        #expect(try daemon.terminate() == 0)
    }

    /// Config/secure_tcp.yaml works as its comment says: keys from `normd keygen`, a client's
    /// public key copied into `authorized/`, then `normd validate` accepts it.
    @Test func theShippedSecureTcpConfigValidatesAfterItsSetUpSteps() throws {
        let scratch = try ScratchDirectory()
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config/secure_tcp.yaml")
        let config = try scratch.write(try String(contentsOf: shipped, encoding: .utf8), to: "secure_tcp.yaml")
        try FileManager.default.createDirectory(at: scratch.url.appendingPathComponent("authorized"), withIntermediateDirectories: true)
        for name in ["server", "trainer"] {
            let keygen = try Subprocess("keygen", executable: Normd.binary, arguments: ["keygen", name, "--dir", "keys"], in: scratch.url)
            #expect(try keygen.waitForExit(timeout: .seconds(15)) == 0)
        }
        try FileManager.default.copyItem(
            at: scratch.url.appendingPathComponent("keys/trainer.key"),
            to: scratch.url.appendingPathComponent("authorized/trainer.key"))
        let validate = try Subprocess("validate", executable: Normd.binary, arguments: ["validate", "--config", config], in: scratch.url)
        #expect(try validate.waitForExit(timeout: .seconds(15)) == 0, "\(validate.stderr)")
    }

    /// SIGHUP and `POST /reload` both re-read `authorized_keys` first.
    @Test(arguments: ["SIGHUP", "POST /reload"])
    func revokedKeyIsCutOffAfterAReload(_ trigger: String) throws {
        let scratch = try ScratchDirectory()
        let admin = trigger == "SIGHUP" ? "" : "admin: {listen: \"127.0.0.1:0\"}\n"
        let daemon = try Self.started(scratch, config: Self.config(security: admin + Self.security))
        let input = try daemon.inputEndpoint(of: "sensors"), output = try daemon.outputEndpoint(of: "sensors")
        // One connection for the whole test: revocation must cut off a peer admitted before it.
        // The producer sends one batch, then two more once `next` exists — on the same connection;
        // an authorized consumer takes the output (a PUSH output with no consumer holds the pipeline).
        let producer = try PythonScript.start(
            Self.clientPrelude + """
                import os
                good = curve(c.socket(zmq.PULL), 'alice'); good.connect('\(output)')
                p = curve(c.socket(zmq.PUSH), 'alice'); p.setsockopt(zmq.LINGER, 15000); p.connect('\(input)')
                rows = np.arange(64, dtype='<f4').reshape(16, 4)
                def one():
                    p.send(json.dumps({'dtype': '<f4', 'shape': [16, 4]}).encode(), zmq.SNDMORE); p.send(rows)
                one()
                deadline = time.time() + 30
                while not os.path.exists('next') and time.time() < deadline: time.sleep(0.05)
                one(); one()
                p.close()
                print(json.dumps({'good': receive(good, 3000)}), flush=True)
                """, name: "producer", in: scratch.url)
        do {
            try daemon.waitForCounts(of: "sensors", "messages_accepted=1") { $0.int("messages_accepted") == 1 }
        } catch {
            Issue.record("producer said: \(producer.stdout)\(producer.stderr)")
            throw error
        }
        try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("authorized/alice.key"))
        if trigger == "SIGHUP" {
            daemon.send(SIGHUP)
        } else {
            #expect(try AdminHTTP(daemon).post("/reload").status == 200) // the configuration itself is unchanged
        }
        _ = try daemon.waitForLine("'authorized_keys re-read'") {
            $0.message == "authorized_keys re-read" && $0["removed"] == "1" && $0["requested_by"] == trigger
        }
        try scratch.write("", to: "next")
        try daemon.waitForCounts(of: "sensors", "messages_rejected={revoked_key: 2}") { $0["messages_rejected"] == "{revoked_key: 2}" }
        // Ended (or killed) before the daemon stops: its sockets must reconnect while the daemon runs
        // (the refused reconnect is counted below), so only its own time limits bound it.
        #expect(try producer.waitForExit(timeout: .seconds(90)) == 0, "\(producer.stderr)")
        let said = producer.stdout
        let result = try JSONSerialization.jsonObject(with: Data((said.split(separator: "\n").last ?? "").utf8)) as? [String: Any]
        #expect(Self.normalized(result?["good"], count: 1), "\(said)") // the batch before revocation, and no other
        #expect(try daemon.terminate() == 0)
        let counts = try daemon.finalCounts(of: "sensors")
        // revoked_key: the producer's two messages, and the consumer's connection (alice consumes too),
        // which the output's guard closed; its reconnect was then refused: unknown_key.
        #expect(
            counts["messages_accepted"] == "1" && counts["rows_accepted"] == "16" && counts["batches"] == "1"
                && counts["auth_failures"] == "{revoked_key: 3, unknown_key: 1}", "\(counts)")
        let refusal = try #require(daemon.logLines.first { $0["reason"] == "revoked_key" }, "\(daemon.stderr)")
        #expect(refusal.message?.hasSuffix("is no longer in authorized_keys") == true, "\(refusal)")
    }
}
