public import StageKit
public import WireFormat

/// Socket options an endpoint may set. Every field has a default chosen for a sidecar on one host;
/// the YAML keys are the libzmq option names without the `ZMQ_` prefix, in lower case.
public struct SocketOptions: Sendable, Equatable {
    /// Messages queued per peer before a PUSH blocks, a PUB drops, or a PULL/SUB stops reading
    /// (`ZMQ_SNDHWM`/`ZMQ_RCVHWM`). `nil`: derived from `queue_bytes`.
    public var highWaterMark: Int?
    /// The memory the queue may hold, used to derive the high-water mark from the message size:
    /// libzmq's default of 1000 *messages* is gigabytes once the messages are whole batches.
    public var queueBytes: Int = 64 << 20
    /// libzmq's hard limit (`ZMQ_MAXMSGSIZE`): a larger frame makes libzmq drop the connection
    /// before normd sees the message (counted as `connections_dropped`) — a memory guard.
    /// `nil`: an input's `max_message_bytes`, an output's none; `-1`: no limit.
    public var maxMessageBytes: Int64?
    /// Reconnect back-off for connecting sockets (`ZMQ_RECONNECT_IVL`, `ZMQ_RECONNECT_IVL_MAX`), ms.
    public var reconnectInterval: Int = 100
    public var reconnectIntervalMax: Int = 5_000
    /// ZMTP heartbeats (`ZMQ_HEARTBEAT_IVL`, `ZMQ_HEARTBEAT_TIMEOUT`), ms; 0 disables, the default.
    ///
    /// Off by default because a PING (and the PONG that answers one) carries data, and Linux answers
    /// data reaching a socket whose process has closed it with a reset (RFC 1122 §4.2.2.13) that
    /// discards everything that socket had not yet delivered: a producer that exits while normd is
    /// behind, or a consumer still reading what normd sent before it exited, silently lost the
    /// stream's tail (Docs/RELIABILITY.md, "Peers that close"). Dead peers are found by TCP
    /// keep-alive instead, whose probes carry no data.
    public var heartbeatInterval: Int = 0
    public var heartbeatTimeout: Int = 15_000
    /// How long close waits to deliver queued messages (`ZMQ_LINGER`), ms. Bounded, so a vanished
    /// peer cannot hold shutdown forever.
    public var linger: Int = 1_000

    public init() {}

    /// The high-water mark for messages of `messageBytes`, from `high_water_mark` or `queue_bytes`.
    public func highWaterMark(forMessagesOf messageBytes: Int) -> Int {
        if let highWaterMark { return highWaterMark }
        return min(100_000, max(2, queueBytes / max(1, messageBytes)))
    }

    static let keys = [
        "high_water_mark", "queue_bytes", "maxmsgsize", "reconnect_ivl", "reconnect_ivl_max",
        "heartbeat_ivl", "heartbeat_timeout", "linger",
    ]

    static func read(from reader: ParameterReader) -> SocketOptions {
        var options = SocketOptions()
        if let hwm = reader.optionalInt("high_water_mark"), reader.require("high_water_mark", hwm > 0, "must be an integer > 0"),
            reader.requireAtMost("high_water_mark", hwm, ConfigLimits.maxHighWaterMark)
        {
            options.highWaterMark = hwm
        }
        if let bytes = reader.optionalInt("queue_bytes"), reader.require("queue_bytes", bytes > 0, "must be an integer > 0"),
            reader.requireAtMost("queue_bytes", bytes, ConfigLimits.maxQueueBytes, bytes: true)
        {
            options.queueBytes = bytes
        }
        if let size = reader.optionalInt("maxmsgsize"),
            reader.require("maxmsgsize", size > 0 || size == -1, "must be a number of bytes > 0, or -1 for no limit"),
            reader.requireAtMost("maxmsgsize", size, ConfigLimits.maxMessageBytes, bytes: true)
        {
            options.maxMessageBytes = Int64(size)
        }
        func milliseconds(_ key: String, _ value: inout Int, allowZero: Bool) {
            guard let number = reader.optionalInt(key) else { return }
            if reader.require(
                key, allowZero ? number >= 0 : number > 0,
                allowZero ? "must be a number of milliseconds >= 0" : "must be a number of milliseconds > 0"),
                reader.requireAtMost(key, number, ConfigLimits.maxSocketMilliseconds)
            {
                value = number
            }
        }
        milliseconds("reconnect_ivl", &options.reconnectInterval, allowZero: false)
        milliseconds("reconnect_ivl_max", &options.reconnectIntervalMax, allowZero: true)
        milliseconds("heartbeat_ivl", &options.heartbeatInterval, allowZero: true)
        milliseconds("heartbeat_timeout", &options.heartbeatTimeout, allowZero: true)
        milliseconds("linger", &options.linger, allowZero: true)
        return options
    }
}

/// One `inputs:` entry: where a pipeline's rows come from.
public struct InputEndpoint: Sendable, Equatable {
    public enum SocketKind: String, Sendable, CaseIterable {
        /// Lossless fan-in: PUSH producers block at the high-water mark.
        case pull
        /// An existing publisher; needs explicit topic prefixes.
        case sub
    }

    public var endpoint: String
    public var socket: SocketKind
    public var bind: Bool
    public var codec: InputCodec
    /// SUB prefixes; `[""]` subscribes to everything (must be said explicitly).
    public var topics: [String]
    /// Messages larger than this (all frames together) are rejected as `oversize`, logged and counted.
    public var maxMessageBytes: Int
    /// Connections a bound input admits at once (`max_connections`); more are refused at the
    /// handshake. With `high_water_mark` and `max_message_bytes` it bounds what libzmq may queue:
    /// `max_connections × high_water_mark × max_message_bytes`.
    public var maxConnections = InputEndpoint.defaultMaxConnections
    public var options: SocketOptions
    /// `curve:` / `curve_server_key:` (SecurityConfiguration.swift).
    public var security = EndpointSecurity()
    public var path: ConfigPath

    public static let defaultMaxConnections = 64
    /// Upper bound of `max_connections` (each connection is a descriptor and a queue).
    public static let maxConnectionsLimit = 10_000

    /// libzmq's per-frame limit (`ZMQ_MAXMSGSIZE`): `maxmsgsize` if set (-1 = none), else
    /// `max_message_bytes` — no frame of an acceptable message is larger, so a larger one is
    /// refused before libzmq buffers it.
    public var frameLimit: Int64 {
        options.maxMessageBytes ?? Int64(maxMessageBytes)
    }
}

/// The `output:` of a pipeline: where normalized batches go.
public struct OutputEndpoint: Sendable, Equatable {
    public enum SocketKind: String, Sendable, CaseIterable {
        /// One trainer or a pool; blocks when nobody consumes (back-pressure, no loss).
        case push
        /// Fan-out; a slow subscriber loses batches silently (libzmq's PUB semantics).
        case pub
        /// Fan-out with `ZMQ_XPUB_NODROP`: a full queue refuses the batch and normd counts the drop.
        case xpub
    }

    public var endpoint: String
    public var socket: SocketKind
    public var bind: Bool
    public var codec: OutputCodec
    /// Topic frame sent before each batch on pub/xpub (default: the pipeline name).
    public var topic: String?
    /// How long a blocked send may wait at shutdown before the last batch is counted as dropped.
    public var shutdownTimeout: Duration
    public var options: SocketOptions
    /// `curve:` / `curve_server_key:` (SecurityConfiguration.swift).
    public var security = EndpointSecurity()
    public var path: ConfigPath
}

extension InputEndpoint {
    static func read(from reader: ParameterReader) -> InputEndpoint? {
        let mark = reader.diagnostics.mark()
        let socket = SocketKind(rawValue: reader.choice("socket", among: SocketKind.allCases.map(\.rawValue), default: "pull")) ?? .pull
        let bind = reader.bool("bind", default: socket == .pull)
        let endpoint = readEndpoint(reader, bind: bind)
        let codec = InputCodec(rawValue: reader.choice("codec", among: InputCodec.allCases.map(\.rawValue), default: "tensor")) ?? .tensor
        var topics: [String] = []
        if let node = reader.value("topics"), !node.isNull {
            if let items = node.listItems {
                let counted = reader.requireCount("topics", items, atMost: ConfigLimits.maxTopics, of: "topics")
                for (index, item) in items.enumerated() where counted {
                    let itemPath = reader.path(of: "topics").appending(index: index)
                    if case .string(let text) = item.value {
                        if text.utf8.count <= ConfigLimits.maxTopicBytes {
                            topics.append(text)
                        } else {
                            reader.diagnostics.error(at: item.location, path: itemPath, tooLong(text, limit: ConfigLimits.maxTopicBytes))
                        }
                    } else {
                        reader.diagnostics.error(
                            at: item.location, path: itemPath,
                            "expected a topic prefix string, got \(item.value.typeName) \(item.quoted)")
                    }
                }
            } else {
                reader.error("topics", "expected a list of topic prefixes, got \(node.value.typeName) \(node.quoted)")
            }
        }
        if socket == .sub && !reader.contains("topics") {
            reader.error("socket", "a sub input needs 'topics' (a list of prefixes; [\"\"] subscribes to everything)")
        }
        if socket == .pull && !topics.isEmpty {
            reader.error("topics", "only a sub input filters by topic; a pull input receives every message")
        }
        var maxMessageBytes = 16 << 20
        if let limit = reader.optionalInt("max_message_bytes"), reader.require("max_message_bytes", limit > 0, "must be a number of bytes > 0"),
            reader.requireAtMost("max_message_bytes", limit, ConfigLimits.maxMessageBytes, bytes: true)
        {
            maxMessageBytes = limit
        }
        var maxConnections = InputEndpoint.defaultMaxConnections
        if let limit = reader.optionalInt("max_connections"),
            reader.require(
                "max_connections", (1...InputEndpoint.maxConnectionsLimit).contains(limit),
                "must be an integer from 1 to \(InputEndpoint.maxConnectionsLimit)")
        {
            maxConnections = limit
        }
        let options = SocketOptions.read(from: reader)
        let security = EndpointSecurity.read(from: reader)
        reader.finish()
        guard mark.noNewErrors, let endpoint else { return nil }
        var input = InputEndpoint(
            endpoint: endpoint, socket: socket, bind: bind, codec: codec, topics: topics,
            maxMessageBytes: maxMessageBytes, options: options, path: reader.path)
        input.maxConnections = maxConnections
        input.security = security
        return input
    }
}

extension OutputEndpoint {
    static let shutdownTimeoutBound = DurationBound(
        allowsZero: true, floorRule: "must be >= 0", maximum: ConfigLimits.maxShutdownTimeout, example: "a duration like 5s or 500ms")

    static func read(from reader: ParameterReader, pipelineName: String?) -> OutputEndpoint? {
        let mark = reader.diagnostics.mark()
        let socket = SocketKind(rawValue: reader.choice("socket", among: SocketKind.allCases.map(\.rawValue), default: "push")) ?? .push
        let bind = reader.bool("bind", default: true)
        let endpoint = readEndpoint(reader, bind: bind)
        let codec = OutputCodec(rawValue: reader.choice("codec", among: OutputCodec.allCases.map(\.rawValue), default: "tensor")) ?? .tensor
        var topic = reader.optionalString("topic")
        if let text = topic, !reader.requireLength("topic", text, atMost: ConfigLimits.maxTopicBytes) { topic = nil }
        if topic != nil && socket == .push {
            reader.error("topic", "only pub and xpub outputs send a topic frame")
        }
        if topic == nil && socket != .push { topic = pipelineName }
        let shutdownTimeout = reader.duration("shutdown_timeout", shutdownTimeoutBound) ?? .seconds(5)
        let options = SocketOptions.read(from: reader)
        let security = EndpointSecurity.read(from: reader)
        reader.finish()
        guard mark.noNewErrors, let endpoint else { return nil }
        var output = OutputEndpoint(
            endpoint: endpoint, socket: socket, bind: bind, codec: codec, topic: topic,
            shutdownTimeout: shutdownTimeout, options: options, path: reader.path)
        output.security = security
        return output
    }
}

/// `endpoint:` must be a ZeroMQ address with a transport normd can use; a `tcp://` one needs a
/// port libzmq can use: 1–65535, or `*`/`0` (any free port) when binding.
private func readEndpoint(_ reader: ParameterReader, bind: Bool) -> String? {
    guard let endpoint = reader.optionalString("endpoint") else {
        if !reader.contains("endpoint") { reader.error("endpoint", "missing; e.g. \"tcp://127.0.0.1:5555\" or \"ipc:///tmp/normd.sock\"") }
        return nil
    }
    guard reader.requireLength("endpoint", endpoint, atMost: ConfigLimits.maxEndpointBytes) else { return nil }
    let transports = ["tcp://", "ipc://", "inproc://"]
    guard transports.contains(where: endpoint.hasPrefix), endpoint.count > 6 else {
        reader.require("endpoint", false, "must start with tcp://, ipc:// or inproc://")
        return nil
    }
    if endpoint.hasPrefix("tcp://") {
        // `tcp://source:port;host:port` connects from a chosen source; the port that matters is the last.
        let address = endpoint.dropFirst(6).split(separator: ";", omittingEmptySubsequences: false).last ?? ""
        guard let colon = address.lastIndex(of: ":") else {
            reader.require("endpoint", false, "a tcp endpoint needs a port (tcp://host:port)")
            return nil
        }
        let port = address[address.index(after: colon)...]
        let anyPort = port == "*" || port == "0"
        let valid = anyPort ? bind : port.allSatisfy(\.isASCII) && (Int(port).map { (1...65_535).contains($0) } ?? false)
        guard valid else {
            reader.require(
                "endpoint", false,
                bind
                    ? "the tcp port must be 1-65535, or * or 0 for any free port"
                    : "the tcp port must be 1-65535 (a connecting socket needs the peer's port)")
            return nil
        }
    }
    return endpoint
}
