import Foundation
import StageKit

/// The admin HTTP server (`admin:` at the top level): metrics, health, readiness and the control
/// endpoints (README, "Operating normd"). Absent: no HTTP server at all.
///
/// ```yaml
/// admin: {listen: "127.0.0.1:9464", control: true, token_file: /etc/normd/admin.token}
/// ```
///
/// Equality compares what a running server is bound to — `listen`, `control` and the token file's
/// *path* — not the token itself: every reload re-reads the file, so a rotated token is not a change
/// of the section (which would need a restart).
public struct AdminConfiguration: Sendable, Equatable {
    /// The host to bind: an IPv4 address, `localhost`, or a bracketed IPv6 address without brackets.
    public var host: String
    /// The TCP port; 0 lets the kernel choose (the bound port is logged as `msg="admin listening"`).
    public var port: Int
    /// Whether the POST endpoints act; when `false` they answer 403.
    public var control: Bool
    /// `token_file`, resolved against the configuration file's directory; `nil`: POSTs need no token.
    public var tokenFile: String?
    /// The bearer token read from `tokenFile` (RFC 6750 `b64token` characters).
    public var token: String?

    public init(host: String, port: Int, control: Bool = true, tokenFile: String? = nil, token: String? = nil) {
        self.host = host
        self.port = port
        self.control = control
        self.tokenFile = tokenFile
        self.token = token
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.host == rhs.host && lhs.port == rhs.port && lhs.control == rhs.control && lhs.tokenFile == rhs.tokenFile
    }

    /// Bytes of a token file read before refusing it: a token is 16 to 1024 characters.
    public static let maxTokenFileBytes = 4096
    /// Shortest token accepted: 16 characters of 64 symbols are 96 bits, beyond guessing over HTTP.
    public static let minTokenBytes = 16, maxTokenBytes = 1024

    /// Reads the admin token: the file's text without surrounding whitespace (`openssl rand -hex 32 > FILE`
    /// leaves a newline), refused unless only its owner may access it, like the CURVE secret key.
    /// - Throws: ``KeyFileError`` naming the file.
    public static func readToken(_ path: String) throws(KeyFileError) -> String {
        try SecretFile.checkPrivate(path, what: "token file")
        let data = try SecretFile.read(path, maxBytes: maxTokenFileBytes, notWhat: "a token file")
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // RFC 6750 §2.1 b64token: what may follow "Bearer " in an Authorization header.
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=".utf8)
        guard (minTokenBytes...maxTokenBytes).contains(token.utf8.count), token.utf8.allSatisfy({ allowed.contains($0) }) else {
            throw KeyFileError(
                "\(path) must hold one token of \(minTokenBytes) to \(maxTokenBytes) characters A-Z a-z 0-9 - . _ ~ + / = "
                    + "(e.g. openssl rand -hex 32), got \(token.utf8.count) characters")
        }
        return token
    }

    /// `listen` as written back: `HOST:PORT`, IPv6 hosts bracketed.
    public var listen: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can reach the server (127.0.0.0/8, `localhost`, `::1`).
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Reads `admin:`; every problem goes to `reader`'s diagnostics.
    /// - Returns: `nil` when an error was reported.
    static func read(from reader: ParameterReader, configFile: String?) -> AdminConfiguration? {
        let errorsBefore = reader.diagnostics.errors.count
        var parsed: (host: String, port: Int)?
        if reader.value("listen")?.isNull ?? true {
            reader.error(nil, "missing 'listen' (HOST:PORT, e.g. \"127.0.0.1:9464\"; port 0 picks a free one)")
        } else if let listen = reader.optionalString("listen"), reader.requireLength("listen", listen, atMost: ConfigLimits.maxAdminListenBytes) {
            switch parseListen(listen) {
            case .success(let value): parsed = value
            case .failure(let problem): reader.error("listen", problem.message)
            }
        }
        let control = reader.bool("control", default: true)
        var tokenFile: String?, token: String?
        if let path = reader.optionalString("token_file"), reader.require("token_file", !path.isEmpty, "must be a non-empty path"),
            reader.requireLength("token_file", path, atMost: ConfigLimits.maxPathBytes)
        {
            tokenFile = CheckpointConfiguration.resolve(path, relativeTo: configFile)
            do { token = try readToken(tokenFile!) } catch { reader.error("token_file", error.message) }
        }
        reader.finish()
        guard reader.diagnostics.errors.count == errorsBefore, let parsed else { return nil }
        let configuration = AdminConfiguration(host: parsed.host, port: parsed.port, control: control, tokenFile: tokenFile, token: token)
        // Off this machine, a control endpoint without a token lets anyone who can reach the port
        // switch modes, reload and write checkpoints: refused, not warned about.
        if control && !configuration.isLoopback && tokenFile == nil {
            reader.error(
                "listen",
                "'\(configuration.listen)' is not a loopback address and control is true without a token_file: anyone who can reach it could switch modes, reload and write checkpoints; set token_file, control: false, or listen on 127.0.0.1"
            )
            return nil
        }
        return configuration
    }

    struct ListenProblem: Error { let message: String }

    /// `HOST:PORT` or `[IPV6]:PORT`; the port 0…65535. The host is checked by its characters only:
    /// whether it can be bound is known at bind time (exit 69, like a ZeroMQ endpoint).
    static func parseListen(_ text: String) -> Result<(host: String, port: Int), ListenProblem> {
        let example = "expected HOST:PORT such as \"127.0.0.1:9464\" or \"[::1]:9464\", got \"\(ConfigNode.excerpt(text))\""
        var host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else { return .failure(.init(message: example)) }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return .failure(.init(message: example)) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:")
        guard !host.isEmpty, host.allSatisfy({ allowed.contains($0) }) else { return .failure(.init(message: example)) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
            let port = Int(portText), port <= 65_535
        else {
            return .failure(
                .init(message: "port must be a number from 0 to 65535 (0 picks a free one), got \"\(ConfigNode.excerpt(String(portText)))\""))
        }
        if host.hasPrefix("[") { host = host.dropFirst() }
        return .success((String(host), port))
    }
}
