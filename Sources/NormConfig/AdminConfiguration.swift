import StageKit

/// The admin HTTP server (`admin:` at the top level): metrics, health, readiness and the control
/// endpoints (README, "Operating normd"). Absent: no HTTP server at all.
///
/// ```yaml
/// admin: {listen: "127.0.0.1:9464", control: true}
/// ```
public struct AdminConfiguration: Sendable, Equatable {
    /// The host to bind: an IPv4 address, `localhost`, or a bracketed IPv6 address without brackets.
    public var host: String
    /// The TCP port; 0 lets the kernel choose (the bound port is logged as `msg="admin listening"`).
    public var port: Int
    /// Whether the POST endpoints act; when `false` they answer 403.
    public var control: Bool

    public init(host: String, port: Int, control: Bool = true) {
        self.host = host
        self.port = port
        self.control = control
    }

    /// `listen` as written back: `HOST:PORT`, IPv6 hosts bracketed.
    public var listen: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can reach the server (127.0.0.0/8, `localhost`, `::1`).
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Reads `admin:`; every problem goes to `reader`'s diagnostics.
    /// - Returns: `nil` when an error was reported.
    static func read(from reader: ParameterReader) -> AdminConfiguration? {
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
        reader.finish()
        guard reader.diagnostics.errors.count == errorsBefore, let parsed else { return nil }
        let configuration = AdminConfiguration(host: parsed.host, port: parsed.port, control: control)
        if control && !configuration.isLoopback {
            reader.warning("listen", "'\(configuration.listen)' is not a loopback address and control is true: anyone who can reach it can switch modes and write checkpoints; set control: false or listen on 127.0.0.1")
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
              let port = Int(portText), port <= 65_535 else {
            return .failure(.init(message: "port must be a number from 0 to 65535 (0 picks a free one), got \"\(ConfigNode.excerpt(String(portText)))\""))
        }
        if host.hasPrefix("[") { host = host.dropFirst() }
        return .success((String(host), port))
    }
}
