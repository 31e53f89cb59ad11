import Foundation
import NormTesting
import Testing

/// Issue 11 §3: `admin.token_file` — every POST needs `Authorization: Bearer <token>`, GETs stay
/// open; the built daemon over real HTTP (Python's urllib, as a trainer's script would call it).
@Suite struct AdminTokenTests {
    static let token = "3f6c0e5a9b1d47c2a8e4f0b6d2c91e7a"
    static let rotated = "9b1d47c2a8e4f0b6d2c91e7a3f6c0e5a"

    static func config(admin: String) -> String {
        "admin: \(admin)\n" + PipelineYAML.config(PipelineYAML())
    }

    /// Writes `token` (with the newline `openssl rand -hex` leaves) to `scratch/name` with `mode`.
    static func writeToken(_ token: String, in scratch: ScratchDirectory, name: String = "admin.token", mode: mode_t = 0o600) throws -> String {
        let path = try scratch.write(token + "\n", to: name)
        #expect(chmod(path, mode) == 0)
        return path
    }

    /// Python defining `call(method, path, authorization=None)` → `[status, WWW-Authenticate, body]`.
    static func http(_ base: String) -> String {
        """
        import urllib.request, urllib.error, os
        def call(method, path, authorization=None, body=None):
            request = urllib.request.Request('\(base)' + path, method=method,
                                             data=(body or '').encode() if method == 'POST' else None)
            if authorization is not None: request.add_header('Authorization', authorization)
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return [answer.status, answer.headers.get('WWW-Authenticate'), answer.read().decode()]
            except urllib.error.HTTPError as error:
                return [error.code, error.headers.get('WWW-Authenticate'), error.read().decode()]

        """
    }

    static func answers(_ output: String) throws -> [[String?]] {
        try output.split(separator: "\n").map { line in
            let array = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any], "not a JSON array: \(line)")
            return array.map { ($0 as? String) ?? (($0 as? NSNumber).map { "\($0)" }) }
        }
    }

    static let missing: [String?] = [
        "401", #"Bearer realm="normd""#,
        #"{"error":"this endpoint needs 'Authorization: Bearer <token>' (the token in admin.token_file)"}"#,
    ]
    static let wrong: [String?] = ["401", #"Bearer realm="normd", error="invalid_token""#, #"{"error":"the bearer token is wrong"}"#]

    @Test func postsNeedTheBearerTokenGetsStayOpenAndReloadRotatesIt() throws {
        let scratch = try ScratchDirectory()
        _ = try Self.writeToken(Self.token, in: scratch)
        let daemon = try DaemonProcess.started(config: Self.config(admin: #"{listen: "127.0.0.1:0", token_file: admin.token}"#), scratch: scratch)
        let http = try AdminHTTP(daemon)
        let output = try PythonScript.run(
            Self.http(http.base) + """
                mode = '{"mode":"infer"}'
                for request in [('GET', '/healthz', None), ('POST', '/checkpoint', None), ('POST', '/checkpoint', 'Bearer wrong-token-of-any-length'),
                                ('POST', '/checkpoint', 'Bearer \(Self.token)x'), ('POST', '/checkpoint', 'Basic \(Self.token)'),
                                ('POST', '/checkpoint', 'bearer \(Self.token)')]:
                    print(json.dumps(call(*request)))
                print(json.dumps(call('POST', '/pipelines/sensors/mode', None, mode)))
                print(json.dumps(call('POST', '/pipelines/sensors/mode', 'Bearer \(Self.token)', mode)))
                with open('admin.token', 'w') as f: f.write('\(Self.rotated)\\n')
                print(json.dumps(call('POST', '/reload', 'Bearer \(Self.token)')))
                print(json.dumps(call('POST', '/checkpoint', 'Bearer \(Self.token)')))
                print(json.dumps(call('POST', '/checkpoint', 'Bearer \(Self.rotated)')))
                """, in: scratch.url)
        let answers = try Self.answers(output)
        let reloaded =
            #"{"result":"success","kept":[{"kind":"min_max","pipeline":"sensors","stage":0},{"kind":"batch_norm","pipeline":"sensors","stage":1}],"reset":[],"added":[],"removed":[]}"#
        #expect(
            answers == [
                ["200", nil, #"{"status":"ok"}"#],
                Self.missing, Self.wrong, Self.wrong, Self.missing,
                ["409", nil, #"{"error":"no checkpoint: section is configured"}"#], // the scheme is case-insensitive
                Self.missing,
                ["200", nil, #"{"from_batch":0,"mode":"infer","pipeline":"sensors"}"#],
                ["200", nil, reloaded],
                Self.wrong,
                ["409", nil, #"{"error":"no checkpoint: section is configured"}"#],
            ], "\(output)\n\(daemon.stderr)")
        let reread = daemon.logLines.filter { $0.message == "admin token re-read" }
        #expect(reread.map { $0["file"] } == [scratch.path("admin.token")], "\(daemon.stderr)")
        #expect(try daemon.terminate() == 0)
    }

    @Test func aRotatedTokenFileThatIsTooOpenKeepsThePreviousToken() throws {
        let scratch = try ScratchDirectory()
        let path = try Self.writeToken(Self.token, in: scratch)
        let daemon = try DaemonProcess.started(config: Self.config(admin: #"{listen: "127.0.0.1:0", token_file: admin.token}"#), scratch: scratch)
        let http = try AdminHTTP(daemon)
        _ = try Self.writeToken(Self.rotated, in: scratch, mode: 0o644)
        daemon.send(SIGHUP)
        _ = try daemon.waitForLine("admin token not re-read") { $0.message?.hasPrefix("admin token not re-read") == true }
        let output = try PythonScript.run(
            Self.http(http.base) + """
                print(json.dumps(call('POST', '/pipelines/sensors/mode', 'Bearer \(Self.rotated)', '{"mode":"train"}')))
                print(json.dumps(call('POST', '/pipelines/sensors/mode', 'Bearer \(Self.token)', '{"mode":"train"}')))
                """, in: scratch.url)
        #expect(try Self.answers(output) == [Self.wrong, ["200", nil, #"{"from_batch":0,"mode":"train","pipeline":"sensors"}"#]], "\(output)")
        let line = try #require(daemon.logLines.first { $0.message?.hasPrefix("admin token not re-read") == true })
        #expect(
            line.message
                == "admin token not re-read; the previous token stays: token file \(path) is accessible by group or others (mode 644); run chmod 600 \(path)"
        )
        #expect(try daemon.terminate() == 0)
    }

    @Test func controlFalseAnswers403BeforeTheTokenIsLookedAt() throws {
        let scratch = try ScratchDirectory()
        _ = try Self.writeToken(Self.token, in: scratch)
        let daemon = try DaemonProcess.started(
            config: Self.config(admin: #"{listen: "127.0.0.1:0", control: false, token_file: admin.token}"#), scratch: scratch)
        let output = try PythonScript.run(
            Self.http(try AdminHTTP(daemon).base) + """
                for authorization in [None, 'Bearer wrong', 'Bearer \(Self.token)']:
                    print(json.dumps(call('POST', '/reload', authorization)))
                """, in: scratch.url)
        let forbidden: [String?] = ["403", nil, #"{"error":"control endpoints are disabled (admin.control: false)"}"#]
        #expect(try Self.answers(output) == [forbidden, forbidden, forbidden], "\(output)")
        #expect(try daemon.terminate() == 0)
    }

    @Test func aGroupReadableTokenFileRefusesToStartNamingIt() throws {
        let scratch = try ScratchDirectory()
        let path = try Self.writeToken(Self.token, in: scratch, mode: 0o640)
        let daemon = try DaemonProcess(config: Self.config(admin: #"{listen: "127.0.0.1:0", token_file: admin.token}"#), scratch: scratch)
        #expect(try daemon.waitForExit() == 78)
        #expect(
            daemon.stderr.contains(
                "normd.yaml:1:44: admin.token_file: token file \(path) is accessible by group or others (mode 640); run chmod 600 \(path)"),
            "\(daemon.stderr)")
    }

    @Test func validateRefusesAnOpenControlEndpointAndAMissingTokenFile() throws {
        let scratch = try ScratchDirectory()
        let open = try scratch.write(Self.config(admin: #"{listen: "0.0.0.0:9464"}"#), to: "open.yaml")
        let result = try Normd.run(["validate", "--config", open])
        #expect(result.status == 78)
        #expect(
            result.stderr.contains(
                "\(open):1:17: admin.listen: '0.0.0.0:9464' is not a loopback address and control is true without a token_file: anyone who can reach it could switch modes, reload and write checkpoints; set token_file, control: false, or listen on 127.0.0.1"
            ),
            "\(result.stderr)")
        let missing = try scratch.write(Self.config(admin: #"{listen: "0.0.0.0:9464", token_file: nope.token}"#), to: "missing.yaml")
        let second = try Normd.run(["validate", "--config", missing])
        #expect(second.status == 78)
        #expect(
            second.stderr.contains("\(missing):1:45: admin.token_file: cannot read \(scratch.path("nope.token")): No such file or directory"),
            "\(second.stderr)")
        _ = try Self.writeToken(Self.token, in: scratch)
        let guarded = try scratch.write(Self.config(admin: #"{listen: "0.0.0.0:9464", token_file: admin.token}"#), to: "guarded.yaml")
        #expect(try Normd.run(["validate", "--config", guarded]).status == 0)
    }
}
