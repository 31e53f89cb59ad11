import Logging
import NormConfig
import Pipeline
import ZeroMQ

/// Creates the sockets a pipeline configuration describes, with every option set before
/// bind/connect (libzmq applies most options only to connections made afterwards).
enum SocketFactory {
    /// An input's queue is counted in messages whose size normd cannot know (one row or a whole
    /// batch), so its default high-water mark assumes batch-sized messages — bounding memory for
    /// producers that send many rows at once — but never goes below libzmq's own default of 1000,
    /// which one-row producers rely on for throughput.
    ///
    /// A frame above the input's `max_message_bytes` (or `maxmsgsize`) is refused by libzmq before
    /// it is buffered. A bound input is guarded (``guardConnections(of:_:)``): at most
    /// `max_connections` peers at once, dropped connections counted and logged.
    static func input(_ input: InputEndpoint, context: ZMQContext, batchBytes: Int, guarded: Guarding? = nil) throws -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: input.socket == .pull ? .pull : .sub)
        do {
            try apply(input.options, to: socket, messageBytes: batchBytes)
            try socket.setMaxMessageSize(input.frameLimit)
            try socket.setReceiveHighWaterMark(input.options.highWaterMark ?? max(1000, input.options.queueBytes / max(1, batchBytes)))
            for topic in input.topics { try socket.subscribe(topic) }
            if input.bind, let guarded { try guardConnections(of: socket, guarded) }
            if input.bind { try socket.bind(input.endpoint) } else { try socket.connect(input.endpoint) }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Who guards a bound input's connections, and where its refusals and drops are counted.
    struct Guarding {
        var pipeline: String
        var index: Int
        var maxConnections: Int
        var board: CounterBoard
        var logger: Logger
        var policy: any AdmissionPolicy = ConnectionCap()
    }

    /// Sets a ZAP domain (so libzmq asks the context's ``ConnectionGuard`` about each connection),
    /// starts the socket's monitor and registers both with the guard — before `bind`, so no
    /// connection is accepted unseen.
    private static func guardConnections(of socket: ZMQSocket, _ guarding: Guarding) throws {
        let domain = "normd/\(guarding.pipeline)/\(guarding.index)"
        let monitorEndpoint = "inproc://normd-monitor/\(domain)"
        try socket.setZAPDomain(domain)
        try socket.startMonitor(endpoint: monitorEndpoint, events: [.accepted, .disconnected, .monitorStopped])
        let monitor = try ZMQSocket(context: socket.context, type: .pair)
        do {
            try monitor.setLinger(milliseconds: 0)
            try monitor.connect(monitorEndpoint)
            try ConnectionGuard.register(GuardedInput(domain: domain, limit: guarding.maxConnections, policy: guarding.policy,
                                                      board: guarding.board, logger: guarding.logger, monitor: monitor),
                                         context: socket.context)
        } catch {
            monitor.close()
            throw error
        }
    }

    static func output(_ output: OutputEndpoint, context: ZMQContext, batchBytes: Int) throws -> ZMQSocket {
        let type: ZMQSocketType = switch output.socket {
        case .push: .push
        case .pub: .pub
        case .xpub: .xpub
        }
        let socket = try ZMQSocket(context: context, type: type)
        do {
            try apply(output.options, to: socket, messageBytes: batchBytes)
            if let limit = output.options.maxMessageBytes { try socket.setMaxMessageSize(limit) }
            try socket.setSendHighWaterMark(output.options.highWaterMark(forMessagesOf: batchBytes))
            if output.socket == .xpub { try socket.setXPubNoDrop(true) }
            // A connecting PUSH must not queue batches for a peer that is not there yet.
            if output.socket == .push && !output.bind { try socket.setImmediate(true) }
            if output.bind { try socket.bind(output.endpoint) } else { try socket.connect(output.endpoint) }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// TCP keep-alive on every socket: a peer whose host vanished without closing TCP (a killed
    /// pod, a pulled cable) is dropped after 15 s of silence and 3 unanswered probes 5 s apart, so
    /// its connection slot is freed and a connecting socket reconnects. Keep-alive rather than
    /// ZMTP heartbeats by default: see `SocketOptions.heartbeatInterval`.
    static let keepAlive = (idleSeconds: 15, intervalSeconds: 5, probes: 3)

    private static func apply(_ options: SocketOptions, to socket: ZMQSocket, messageBytes: Int) throws {
        try socket.setLinger(milliseconds: options.linger)
        try socket.setTCPKeepAlive(idleSeconds: keepAlive.idleSeconds, intervalSeconds: keepAlive.intervalSeconds,
                                   probes: keepAlive.probes)
        try socket.setReconnectInterval(milliseconds: options.reconnectInterval)
        try socket.setReconnectIntervalMax(milliseconds: options.reconnectIntervalMax)
        if options.heartbeatInterval > 0 {
            try socket.setHeartbeatInterval(milliseconds: options.heartbeatInterval)
            try socket.setHeartbeatTimeout(milliseconds: options.heartbeatTimeout)
        }
    }
}
