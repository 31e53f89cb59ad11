import NormConfig
import ZeroMQ

/// Creates the sockets a pipeline configuration describes, with every option set before
/// bind/connect (libzmq applies most options only to connections made afterwards).
enum SocketFactory {
    static func input(_ input: InputEndpoint, context: ZMQContext, features: Int) throws -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: input.socket == .pull ? .pull : .sub)
        do {
            try apply(input.options, to: socket, messageBytes: features * 4 + 64)
            if let hardLimit = input.options.maxMessageBytes { try socket.setMaxMessageSize(hardLimit) }
            try socket.setReceiveHighWaterMark(input.options.highWaterMark(forMessagesOf: features * 4 + 64))
            for topic in input.topics { try socket.subscribe(topic) }
            if input.bind { try socket.bind(input.endpoint) } else { try socket.connect(input.endpoint) }
        } catch {
            socket.close()
            throw error
        }
        return socket
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

    private static func apply(_ options: SocketOptions, to socket: ZMQSocket, messageBytes: Int) throws {
        try socket.setLinger(milliseconds: options.linger)
        try socket.setReconnectInterval(milliseconds: options.reconnectInterval)
        try socket.setReconnectIntervalMax(milliseconds: options.reconnectIntervalMax)
        if options.heartbeatInterval > 0 {
            try socket.setHeartbeatInterval(milliseconds: options.heartbeatInterval)
            try socket.setHeartbeatTimeout(milliseconds: options.heartbeatTimeout)
        }
    }
}
