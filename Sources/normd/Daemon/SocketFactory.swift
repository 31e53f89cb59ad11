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
    /// it is buffered. A bound input is guarded (``guardConnections(of:_:socketName:limit:policy:)``): at most
    /// `max_connections` peers at once, dropped connections counted and logged. With `security:
    /// curve:` every input is a CURVE server whose peers the guard checks against the allow-list
    /// (unless `curve: false`, or `curve_server_key` makes it a CURVE client of an upstream server).
    /// `ioThreadMask`: `ZMQ_AFFINITY` (0: libzmq picks; `io_threads: 2` puts inputs on thread 0).
    static func input(
        _ input: InputEndpoint, context: ZMQContext, batchBytes: Int, ioThreadMask: UInt64 = 0, guarded: Guarding? = nil
    ) throws -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: input.socket == .pull ? .pull : .sub)
        do {
            if ioThreadMask != 0 { try socket.setAffinity(ioThreadMask: ioThreadMask) }
            try apply(input.options, to: socket, messageBytes: batchBytes)
            try socket.setMaxMessageSize(input.frameLimit)
            try socket.setReceiveHighWaterMark(input.options.highWaterMark ?? max(1000, input.options.queueBytes / max(1, batchBytes)))
            for topic in input.topics { try socket.subscribe(topic) }
            if let guarded {
                let curveServer = try secure(socket, input.security, guarded.curve)
                var policies: [any AdmissionPolicy] = input.bind ? [ConnectionCap()] : []
                if curveServer, let curve = guarded.curve { policies.append(CurveAllowList(gate: curve)) }
                if !policies.isEmpty {
                    try guardConnections(
                        of: socket, guarded, socketName: "\(guarded.index)",
                        limit: input.bind ? input.maxConnections : Int.max, policy: AllPolicies(policies: policies))
                }
            }
            if input.bind { try socket.bind(input.endpoint) } else { try socket.connect(input.endpoint) }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Whether a socket of an input or output is a CURVE server (its peers are checked by the ZAP
    /// handler, and an input checks each message's User-Id).
    static func isCurveServer(_ security: EndpointSecurity, _ curve: CurveGate?) -> Bool {
        curve != nil && security.curve && security.serverKey == nil
    }

    /// Makes the socket a CURVE server, or a CURVE client of `curve_server_key` with the daemon's
    /// key pair, or leaves it plain (`curve: false`, or no `security:`). Before bind/connect.
    /// - Returns: whether it is a CURVE server.
    private static func secure(_ socket: ZMQSocket, _ security: EndpointSecurity, _ curve: CurveGate?) throws -> Bool {
        guard let curve, security.curve else { return false }
        if let serverKey = security.serverKey {
            try socket.setCurveClient(serverKey: serverKey, publicKey: curve.settings.publicKey, secretKey: curve.settings.secretKey)
            return false
        }
        try socket.setCurveServer(secretKey: curve.settings.secretKey)
        return true
    }

    /// A sync member's ROUTER with `security: curve:` (Docs/SYNC.md): a CURVE server behind the
    /// daemon's ZAP allow-list, like a bound input; members whose key is not authorized are refused
    /// at the handshake and counted in the pipeline's `auth_failures`. Before bind.
    static func secureSyncRouter(_ socket: ZMQSocket, _ guarded: Guarding) throws {
        guard let curve = guarded.curve else { return }
        try socket.setCurveServer(secretKey: curve.settings.secretKey)
        try guardConnections(of: socket, guarded, socketName: "sync", limit: Int.max, policy: CurveAllowList(gate: curve))
    }

    /// A sync member's DEALER to another member with `security: curve:`: a CURVE client of that
    /// member's key (`curve_server_key`), or of this daemon's own public key when the entry names
    /// none (members sharing one key pair). Before connect.
    static func secureSyncDealer(_ socket: ZMQSocket, serverKey: String?, curve: CurveGate?) throws {
        guard let curve else { return }
        try socket.setCurveClient(
            serverKey: serverKey ?? curve.settings.publicKey, publicKey: curve.settings.publicKey, secretKey: curve.settings.secretKey)
    }

    /// Who guards a socket's connections, and where its refusals and drops are counted.
    struct Guarding {
        var pipeline: String
        var index: Int
        var board: CounterBoard
        var logger: Logger
        /// `security: curve:`, when configured.
        var curve: CurveGate?
    }

    /// Sets a ZAP domain (so libzmq asks the context's ``ConnectionGuard`` about each connection),
    /// starts the socket's monitor and registers both with the guard — before `bind`, so no
    /// connection is accepted unseen.
    private static func guardConnections(
        of socket: ZMQSocket, _ guarding: Guarding, socketName: String, limit: Int,
        policy: any AdmissionPolicy, cutOffRevoked: CurveGate? = nil
    ) throws {
        let domain = "normd/\(guarding.pipeline)/\(socketName)"
        let monitorEndpoint = "inproc://normd-monitor/\(domain)"
        try socket.setZAPDomain(domain)
        try socket.startMonitor(endpoint: monitorEndpoint, events: [.accepted, .disconnected, .monitorStopped])
        let monitor = try ZMQSocket(context: socket.context, type: .pair)
        do {
            try monitor.setLinger(milliseconds: 0)
            try monitor.connect(monitorEndpoint)
            try ConnectionGuard.register(
                GuardedInput(
                    domain: domain, limit: limit, policy: policy,
                    board: guarding.board, logger: guarding.logger, monitor: monitor,
                    cutOffRevoked: cutOffRevoked),
                context: socket.context)
        } catch {
            monitor.close()
            throw error
        }
    }

    /// With `security: curve:` the output is a CURVE server too (unless `curve: false` or
    /// `curve_server_key`), guarded by the same allow-list: only authorized consumers receive, and
    /// a consumer whose key is removed while connected has its connection closed (``ConnectionGuard``).
    /// `ioThreadMask`: `ZMQ_AFFINITY` (0: libzmq picks; `io_threads: 2` puts the output on thread 1).
    static func output(
        _ output: OutputEndpoint, context: ZMQContext, batchBytes: Int, ioThreadMask: UInt64 = 0, guarded: Guarding? = nil
    ) throws -> ZMQSocket {
        let type: ZMQSocketType =
            switch output.socket {
            case .push: .push
            case .pub: .pub
            case .xpub: .xpub
            }
        let socket = try ZMQSocket(context: context, type: type)
        do {
            if ioThreadMask != 0 { try socket.setAffinity(ioThreadMask: ioThreadMask) }
            try apply(output.options, to: socket, messageBytes: batchBytes)
            if let limit = output.options.maxMessageBytes { try socket.setMaxMessageSize(limit) }
            try socket.setSendHighWaterMark(output.options.highWaterMark(forMessagesOf: batchBytes))
            if output.socket == .xpub { try socket.setXPubNoDrop(true) }
            // A connecting PUSH must not queue batches for a peer that is not there yet.
            if output.socket == .push && !output.bind { try socket.setImmediate(true) }
            if let guarded, try secure(socket, output.security, guarded.curve), let curve = guarded.curve {
                try guardConnections(
                    of: socket, guarded, socketName: "output", limit: Int.max,
                    policy: AllPolicies(policies: [CurveAllowList(gate: curve)]), cutOffRevoked: curve)
            }
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
        try socket.setTCPKeepAlive(
            idleSeconds: keepAlive.idleSeconds, intervalSeconds: keepAlive.intervalSeconds,
            probes: keepAlive.probes)
        try socket.setReconnectInterval(milliseconds: options.reconnectInterval)
        try socket.setReconnectIntervalMax(milliseconds: options.reconnectIntervalMax)
        if options.heartbeatInterval > 0 {
            try socket.setHeartbeatInterval(milliseconds: options.heartbeatInterval)
            try socket.setHeartbeatTimeout(milliseconds: options.heartbeatTimeout)
        }
    }
}
