import BuiltinStages
import Foundation
import NormConfig
import StageKit
import Testing

/// `security: curve:` and the endpoints' `curve`/`curve_server_key`: keys read at validation, each
/// mistake one whole, located message.
@Suite struct SecurityConfigurationTests {
    /// A directory with `server.key_secret` (0600), `server.key` and `authorized/alice.key`, in the
    /// zcert format pyzmq writes (the keys are fixed 40-character Z85 texts: validation checks the
    /// format; libzmq checks the key).
    final class Keys {
        let directory: String

        init(secretMode: mode_t = 0o600) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("normd-keys-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory + "/authorized", withIntermediateDirectories: true)
            let publicKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
            let secretKey = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
            let curve = "metadata\ncurve\n    public-key = \"\(publicKey)\"\n"
            try write(
                "server.key_secret", "#   ZeroMQ CURVE **Secret** Certificate\n\n" + curve + "    secret-key = \"\(secretKey)\"\n", mode: secretMode)
            try write("server.key", "#   ZeroMQ CURVE Public Certificate\n\n" + curve, mode: 0o644)
            try write("authorized/alice.key", curve.replacingOccurrences(of: "rq:rM", with: "Yne@$"), mode: 0o644)
        }

        private func write(_ name: String, _ text: String, mode: mode_t) throws {
            #expect(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(text.utf8)))
            #expect(chmod(directory + "/" + name, mode) == 0)
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }

        func security(secret: String? = nil, authorized: String? = nil, extra: String = "") -> String {
            "security:\n  curve:\n    secret_key_file: \(secret ?? directory + "/server.key_secret")\n"
                + "    authorized_keys: \(authorized ?? directory + "/authorized")\n" + extra
        }
    }

    /// Validates `security` (lines 1–4, or more with `extra`), then one pipeline whose `inputs:` and `output:` lines are `input`, `output`.
    static func issues(
        _ security: String, input: String = "{endpoint: \"tcp://127.0.0.1:5555\"}",
        output: String = "{endpoint: \"tcp://127.0.0.1:5556\"}"
    ) -> [String] {
        let yaml =
            security + "pipelines:\n  - name: p\n    features: 2\n    stages: [{type: min_max}]\n"
            + "    inputs: [\(input)]\n    output: \(output)\n"
        return NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry()).issues.map(\.description)
    }

    @Test func keysAreReadFromZcertFiles() throws {
        let keys = try Keys()
        let yaml =
            keys.security() + "pipelines:\n  - name: p\n    features: 2\n    stages: [{type: min_max}]\n"
            + "    inputs: [{endpoint: \"tcp://127.0.0.1:5555\"}]\n    output: {endpoint: \"tcp://10.0.0.1:5556\", bind: false, curve_server_key: \(keys.directory)/server.key}\n"
        let result = NormdConfiguration.validate(yaml: yaml, file: "test.yaml", registry: BuiltinStages.registry())
        #expect(result.issues.map(\.description) == [])
        let curve = try #require(result.configuration?.curve)
        #expect(curve.publicKey == "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7" && curve.secretKey == "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6")
        #expect(curve.authorizedKeys == ["Yne@$>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"] && curve.allowIPs == [])
        #expect(result.configuration?.pipelines[0].output?.security.serverKey == "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
    }

    @Test func aMissingSecretKeyFileIsALocatedError() throws {
        let keys = try Keys()
        #expect(
            Self.issues(keys.security(secret: "/nonexistent/server.key_secret")) == [
                "test.yaml:3:22: security.curve.secret_key_file: cannot read /nonexistent/server.key_secret: No such file or directory"
            ])
    }

    @Test func aSecretKeyFileReadableByOthersIsRefusedWithTheFix() throws {
        let keys = try Keys(secretMode: 0o644)
        let path = keys.directory + "/server.key_secret"
        #expect(
            Self.issues(keys.security()) == [
                "test.yaml:3:22: security.curve.secret_key_file: secret key file \(path) is accessible by group or others (mode 644); run chmod 600 \(path)"
            ])
    }

    @Test func aPublicKeyFileAsTheSecretIsRefused() throws {
        let keys = try Keys()
        let path = keys.directory + "/server.key"
        #expect(chmod(path, 0o600) == 0)
        #expect(
            Self.issues(keys.security(secret: path)) == [
                "test.yaml:3:22: security.curve.secret_key_file: \(path) has no secret-key line (is it the .key_secret file?)"
            ])
    }

    @Test func aFifoAmongTheAuthorizedKeysIsRefusedWithoutBlocking() throws {
        let keys = try Keys()
        let fifo = keys.directory + "/authorized/stuck.key"
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(
            Self.issues(keys.security()) == [
                "test.yaml:4:22: security.curve.authorized_keys: \(fifo) is not a regular file"
            ])
    }

    @Test func allowIPsMustBeNumericAddresses() throws {
        let keys = try Keys()
        #expect(
            Self.issues(keys.security(extra: "    allow_ips: [127.0.0.1, \"::1\", example.com]\n")) == [
                "test.yaml:5:35: security.curve.allow_ips[2]: expected a numeric IPv4 or IPv6 address, got \"example.com\""
            ])
    }

    @Test func curveFalseOnANonLoopbackTcpPipelineIsRefused() throws {
        let keys = try Keys()
        #expect(
            Self.issues(keys.security(), input: "{endpoint: \"tcp://0.0.0.0:5555\", curve: false}") == [
                "test.yaml:9:54: pipelines[0].inputs[0].curve: a tcp endpoint may not opt out of CURVE unless every tcp endpoint of the pipeline is loopback"
            ])
        // ipc may always opt out; an all-loopback pipeline may too.
        #expect(
            Self.issues(
                keys.security(), input: "{endpoint: \"ipc:///tmp/x.sock\", curve: false}",
                output: "{endpoint: \"tcp://0.0.0.0:5556\"}") == [])
        #expect(Self.issues(keys.security(), input: "{endpoint: \"tcp://127.0.0.1:5555\", curve: false}") == [])
    }

    @Test func endpointCurveKeysNeedTheSecuritySection() {
        #expect(
            Self.issues("", input: "{endpoint: \"ipc:///tmp/x.sock\", curve: false}") == [
                "test.yaml:5:53: pipelines[0].inputs[0].curve: needs a 'security: curve:' section"
            ])
    }

    @Test func aServerKeyBelongsToAConnectingEndpoint() throws {
        let keys = try Keys()
        #expect(
            Self.issues(keys.security(), output: "{endpoint: \"tcp://127.0.0.1:5556\", curve_server_key: \(keys.directory)/server.key}") == [
                "test.yaml:10:66: pipelines[0].output.curve_server_key: only a connecting endpoint (bind: false) names the server's key"
            ])
    }
}
