import Foundation
import Logging
import Pipeline
import Synchronization
import ZeroMQ

/// What a ZAP handler decides with: the request, and how many connections the input already admitted.
struct AdmissionRequest {
    var zap: ZAP.Request
    /// Connections of this input admitted and not yet closed (this one not counted).
    var admitted: Int
    /// The input's `max_connections`.
    var limit: Int
}

/// The policy a ``ConnectionGuard`` applies to every new connection of a guarded input.
///
/// Small on purpose: a CURVE allow-list (the security issue) is one more policy, composed with the
/// connection cap in ``AllPolicies`` — the guard's threading, monitoring and counting stay as they are.
protocol AdmissionPolicy: Sendable {
    func decide(_ request: AdmissionRequest) -> ZAP.Decision
}

/// Refuses a connection once the input has `max_connections` admitted ones.
struct ConnectionCap: AdmissionPolicy {
    func decide(_ request: AdmissionRequest) -> ZAP.Decision {
        request.admitted < request.limit
            ? .allow : .refuse("input has its max_connections (\(request.limit)) connections")
    }
}

/// Allows a connection only if every policy does (the first refusal is the answer); an allowing
/// policy's User-Id (``CurveAllowList``: the client key) is kept in the answer.
struct AllPolicies: AdmissionPolicy {
    var policies: [any AdmissionPolicy]

    func decide(_ request: AdmissionRequest) -> ZAP.Decision {
        var allowed = ZAP.Decision.allow
        for policy in policies {
            let decision = policy.decide(request)
            if !decision.isAllowed { return decision }
            if !decision.userID.isEmpty { allowed.userID = decision.userID }
        }
        return allowed
    }
}

/// One guarded input, as its pipeline thread registers it (before binding).
struct GuardedInput: @unchecked Sendable {
    /// The input socket's ZAP domain: `normd/<pipeline>/<input index>`.
    var domain: String
    var limit: Int
    var policy: any AdmissionPolicy
    /// Where refusals and drops are counted.
    var board: CounterBoard
    /// The pipeline's logger with `input` and `endpoint` metadata.
    var logger: Logger
    /// A PAIR socket already connected to the input's monitor; from registration on it belongs to
    /// the guard thread (handed over through the guard's lock, which is the memory barrier libzmq
    /// asks for when a socket changes threads).
    var monitor: ZMQSocket
    /// Set on an output: a connection admitted under a key this gate no longer lists is closed
    /// (see ``ConnectionGuard``, "Revocation"). `nil`: revocation is the receive loop's business.
    var cutOffRevoked: CurveGate? = nil
}

/// The ZAP handler and connection monitor of one ZeroMQ context, on its own thread.
///
/// libzmq asks the handler bound at `inproc://zeromq.zap.01` of a context about every connection
/// to a socket with a ZAP domain; there can be only one per context, it must answer from a
/// thread, and the pipeline threads are busy with their own sockets — so each context gets one
/// guard thread, started by the first input registered and ended once every guarded input has
/// closed (its monitor reports `MONITOR_STOPPED`) or the context terminates (`ETERM`).
///
/// **Counting connections.** The input's monitor reports `ACCEPTED` (with the file descriptor)
/// before the connection's ZAP request is sent, so before answering a request the guard reads the
/// monitor; the request itself carries no descriptor, so it is matched to the oldest accepted
/// connection still awaiting a decision (handshakes finish in accept order unless a peer stalls
/// its greeting: then a decision may be booked on the wrong one of two concurrent connections,
/// and the count stays within one per such overlap). `DISCONNECTED` of an admitted connection
/// gives its place back.
///
/// **Drops.** libzmq closes a connection whose frame is above `ZMQ_MAXMSGSIZE` (or that missed
/// its heartbeats) and reports only `DISCONNECTED`, without a reason. The guard keeps a duplicate
/// of each accepted descriptor (so it stays valid after libzmq closes its own) and, at
/// `DISCONNECTED`, polls it: a hang-up means the peer closed; a live socket means normd's
/// side dropped it — counted as `connections_dropped` and logged with the peer address read with
/// `getpeername` at accept time.
///
/// **Revocation (outputs).** ZAP runs only at the handshake and libzmq 4.3 cannot close one peer's
/// connection, so a consumer admitted before its key was removed would go on receiving. For a socket
/// registered with `cutOffRevoked`, the guard remembers the key each connection was admitted under;
/// when the gate reports a new revocation it calls `shutdown(SHUT_RDWR)` on its duplicate of each
/// such connection's descriptor. libzmq reads end-of-file, closes that connection alone — the
/// other consumers keep theirs, with whatever libzmq had queued for them — and the peer's reconnect
/// meets ZAP, which refuses the removed key (`unknown_key`). The duplicate makes this safe: it
/// cannot name another connection even if libzmq has closed and reused its own descriptor.
/// The key is booked to a connection the same way a decision is (accept order; see above), so when
/// handshakes overlap (a connection accepted while another still awaits its decision) the guard
/// cannot tell which of them holds which key: such connections form an ``Overlap`` sharing every key
/// admitted to one of them, and revoking any of those keys closes all of them. The authorized ones
/// reconnect and are admitted again (what libzmq had queued for them is lost); a revoked key never
/// keeps a connection because its decision was booked on a neighbour's.
final class ConnectionGuard: @unchecked Sendable {
    private static let guards = Mutex<[ObjectIdentifier: ConnectionGuard]>([:])
    /// How often the thread looks for new registrations when nothing else wakes it.
    private static let pickUpInterval = 50

    private let contextID: ObjectIdentifier
    /// Registrations not yet picked up by the thread; `nil` once the thread has finished.
    private let pending = Mutex<[GuardedInput]?>([])

    private init(contextID: ObjectIdentifier) {
        self.contextID = contextID
    }

    /// Guards an input: from now on its connections are admitted or refused by `input.policy`.
    /// Call on the input's thread after `startMonitor` and before `bind`.
    /// - Throws: ``ZMQError`` when the ZAP endpoint cannot be bound (another handler owns it).
    static func register(_ input: GuardedInput, context: ZMQContext) throws {
        let id = ObjectIdentifier(context)
        try guards.withLock { guards in
            if let existing = guards[id],
                existing.pending.withLock({ queue in
                    guard queue != nil else { return false }
                    queue!.append(input)
                    return true
                })
            {
                return
            }
            let new = ConnectionGuard(contextID: id)
            new.pending.withLock { $0 = [input] }
            try new.start(context: context)
            guards[id] = new
        }
    }

    private func start(context: ZMQContext) throws {
        let zap = try ZMQSocket(context: context, type: .rep)
        do {
            try zap.setLinger(milliseconds: 0)
            try zap.bind(ZAP.endpoint)
        } catch {
            zap.close()
            throw error
        }
        let handOver = SocketBox(zap)
        let thread = Thread { [self] in
            nameCurrentThread("normd-zap") // `Thread.name` does not reach the OS (see `nameCurrentThread`)
            run(zap: handOver.socket)
        }
        thread.start()
    }

    // MARK: the guard thread

    /// Connections whose handshakes overlapped, and every key admitted to one of them: each of them
    /// may hold any of these keys (decisions are booked in accept order, handshakes may finish in
    /// another).
    private final class Overlap {
        var keys: Set<String> = []
    }

    private struct Connection {
        enum State { case awaitingDecision, admitted, refused, revoked }
        /// A duplicate of libzmq's descriptor, valid until the guard closes it; -1 if dup failed.
        var duplicate: Int32
        var peer: String
        var state = State.awaitingDecision
        /// The client key (Z85) it was admitted under; empty without CURVE.
        var key = ""
        /// Set when its handshake overlapped another's: the key may be a neighbour's.
        var overlap: Overlap?
    }

    private final class Watched {
        let input: GuardedInput
        var connections: [Int32: Connection] = [:]
        /// Accepted descriptors awaiting a ZAP decision, oldest first.
        var awaiting: [Int32] = [] {
            didSet { if awaiting.isEmpty { openOverlap = nil } }
        }
        /// The overlap a connection accepted now joins (its handshake overlaps those in `awaiting`,
        /// and through them every connection that overlapped theirs); `nil` while at most one awaits
        /// outside any overlap.
        var openOverlap: Overlap?
        var admitted = 0
        /// The monitor reported `MONITOR_STOPPED`: the input socket is closed.
        var stopped = false
        var refusalLog = RateLimitedLog(perInterval: 20, interval: .seconds(10))
        var dropLog = RateLimitedLog(perInterval: 20, interval: .seconds(10))
        /// `cutOffRevoked`'s revocation count when its connections were last checked.
        var revocationsSeen: Int

        init(_ input: GuardedInput) {
            self.input = input
            revocationsSeen = input.cutOffRevoked?.revocationCount ?? 0
        }
    }

    private func run(zap: ZMQSocket) {
        var watched: [Watched] = []
        var poller = ZMQPoller(capacity: 1)
        var pollerIsStale = true
        defer {
            for entry in watched { closeAll(entry) }
            zap.close()
        }
        while true {
            guard let picked = pickUp(finishingIfIdle: watched.isEmpty) else { return }
            if !picked.isEmpty {
                watched += picked.map(Watched.init)
                pollerIsStale = true
            }
            if pollerIsStale {
                poller = ZMQPoller(capacity: watched.count + 1)
                poller.register(zap, for: .pollIn)
                for entry in watched { poller.register(entry.input.monitor, for: .pollIn) }
                pollerIsStale = false
            }
            for entry in watched { cutOffRevoked(entry) }
            do {
                guard try poller.poll(timeoutMilliseconds: Self.pickUpInterval) > 0 else { continue }
                for (index, entry) in watched.enumerated() where poller.isReadable(index + 1) {
                    try readEvents(entry)
                }
                if poller.isReadable(0) {
                    // An input registers before it binds, so the registration of any input a
                    // request can come from is queued by now: take it before answering (libzmq
                    // 4.3 never reconnects a peer refused at the handshake).
                    if let late = pickUp(finishingIfIdle: false), !late.isEmpty {
                        watched += late.map(Watched.init)
                        pollerIsStale = true
                    }
                    try answer(zap, watched: watched)
                }
                for entry in watched where entry.stopped { closeAll(entry) }
                if watched.contains(where: \.stopped) {
                    watched.removeAll(where: \.stopped)
                    pollerIsStale = true
                }
            } catch let error as ZMQError where error.isTerminated {
                // The context is terminating: close everything (defer) so zmq_ctx_term can return.
                _ = pickUp(finishingIfIdle: true, force: true)
                return
            } catch {
                watched.first?.input.logger.error("connection guard failed; retrying", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.1) // a persistent failure must not spin
            }
        }
    }

    /// Takes the registrations waiting for the thread. When nothing is watched or waiting (or
    /// `force`), marks the guard finished instead — under the same locks as ``register(_:context:)``
    /// (registry, then queue), so a registration either reaches this thread or starts a new guard.
    private func pickUp(finishingIfIdle idle: Bool, force: Bool = false) -> [GuardedInput]? {
        Self.guards.withLock { guards in
            pending.withLock { queue -> [GuardedInput]? in
                guard let taken = queue else { return nil }
                if force || (taken.isEmpty && idle) {
                    // Registered but never watched: their monitors are this thread's to close.
                    for input in taken { input.monitor.close() }
                    queue = nil
                    if guards[contextID] === self { guards[contextID] = nil }
                    return nil
                }
                queue = []
                return taken
            }
        }
    }

    /// Reads every waiting event of one input's monitor.
    private func readEvents(_ entry: Watched) throws {
        while let event = try entry.input.monitor.receiveMonitorEvent(flags: .dontWait) {
            let fd = Int32(bitPattern: event.value)
            switch event.kind {
            case .accepted:
                let duplicate = dup(fd)
                var connection = Connection(duplicate: duplicate, peer: duplicate >= 0 ? peerAddress(duplicate) : "?")
                if !entry.awaiting.isEmpty {
                    let overlap = entry.openOverlap ?? Overlap()
                    for waiting in entry.awaiting where entry.connections[waiting]?.overlap == nil { entry.connections[waiting]?.overlap = overlap }
                    connection.overlap = overlap
                    entry.openOverlap = overlap
                }
                entry.connections[fd] = connection
                entry.awaiting.append(fd)
            case .disconnected:
                guard let connection = entry.connections.removeValue(forKey: fd) else { continue }
                entry.awaiting.removeAll { $0 == fd }
                if connection.state == .admitted {
                    entry.admitted -= 1
                    if connection.duplicate >= 0 && peerStillConnected(connection.duplicate) { recordDrop(connection, of: entry) }
                }
                if connection.duplicate >= 0 { close(connection.duplicate) }
            case .monitorStopped:
                entry.stopped = true
                return
            default:
                continue
            }
        }
    }

    /// Answers one ZAP request.
    private func answer(_ zap: ZMQSocket, watched: [Watched]) throws {
        var parts = ZMQMultipart(reservingCapacity: 8)
        guard try zap.receiveMultipart(into: &parts, flags: .dontWait) else { return }
        let frames = parts.map(\.bytes)
        let decision: ZAP.Decision
        var reply: [[UInt8]]
        do {
            let request = try ZAP.Request(frames: frames)
            if let entry = watched.first(where: { $0.input.domain == request.domain && !$0.stopped }) {
                // The connection's ACCEPTED was sent before this request: read it first, whatever
                // the poll said about the monitor.
                try readEvents(entry)
                decision = entry.input.policy.decide(AdmissionRequest(zap: request, admitted: entry.admitted, limit: entry.input.limit))
                book(decision, request: request, in: entry)
            } else {
                decision = .refuse("unknown ZAP domain")
            }
            reply = decision.replyFrames(to: request)
        } catch {
            // Not a ZAP 1.0 request (cannot come from libzmq 4.3): answer so the REP socket goes on.
            reply = [Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed request".utf8), [], []]
        }
        _ = try zap.sendMultipart(reply)
    }

    private func book(_ decision: ZAP.Decision, request: ZAP.Request, in entry: Watched) {
        let fd = entry.awaiting.isEmpty ? nil : entry.awaiting.removeFirst()
        if decision.isAllowed {
            entry.admitted += 1
            if let fd {
                entry.connections[fd]?.state = .admitted
                entry.connections[fd]?.key = decision.userID
                if !decision.userID.isEmpty { entry.connections[fd]?.overlap?.keys.insert(decision.userID) }
            }
            return
        }
        if let fd { entry.connections[fd]?.state = .refused }
        // A policy's reason (CURVE: `unknown_key`, `address_denied`) is an authentication failure;
        // without one it is the connection cap.
        if decision.reason.isEmpty { entry.input.board.recordConnectionRefused() } else { entry.input.board.recordAuthFailure(decision.reason) }
        guard let suppressed = entry.refusalLog.admit() else { return }
        var metadata: Logger.Metadata = [
            "peer": "\(fd.flatMap { entry.connections[$0]?.peer } ?? request.address)", "status": "\(decision.status)",
        ]
        if !decision.reason.isEmpty { metadata["reason"] = "\(decision.reason)" }
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        entry.input.logger.warning("connection refused: \(decision.text)", metadata: metadata)
    }

    /// Closes every connection admitted under a key the gate no longer lists, and every connection
    /// whose handshake overlapped one admitted under such a key (``Overlap``), once per new
    /// revocation (at most every `pickUpInterval`); each counted as `auth_failures={revoked_key: N}`.
    private func cutOffRevoked(_ entry: Watched) {
        guard let gate = entry.input.cutOffRevoked, gate.revocationCount != entry.revocationsSeen else { return }
        entry.revocationsSeen = gate.revocationCount
        for (fd, connection) in entry.connections where connection.state != .revoked {
            let ownKeyRevoked = connection.state == .admitted && !connection.key.isEmpty && !gate.isAuthorized(connection.key)
            // A refused neighbour too: its "refusal" may have been another connection's, and libzmq
            // closes the refused one itself (its DISCONNECTED removes it from `connections`).
            let neighbourKey = ownKeyRevoked ? nil : connection.overlap?.keys.sorted().first { !gate.isAuthorized($0) }
            guard ownKeyRevoked || neighbourKey != nil else { continue }
            let key = neighbourKey ?? connection.key
            guard connection.duplicate >= 0 else {
                entry.input.logger.error(
                    "cannot close the connection of a revoked key (its descriptor could not be duplicated); restart to cut it off",
                    metadata: ["peer": "\(connection.peer)", "key": "\(CurveGate.prefix(key))"])
                continue
            }
            shutdown(connection.duplicate, Int32(SHUT_RDWR))
            entry.connections[fd]?.state = .revoked
            if connection.state == .admitted { entry.admitted -= 1 }
            entry.input.board.recordAuthFailure("revoked_key")
            let message =
                neighbourKey == nil
                ? "connection closed: client key \(CurveGate.prefix(key)) is no longer in authorized_keys"
                : "connection closed: its handshake overlapped that of client key \(CurveGate.prefix(key)), which is no longer in authorized_keys (decisions are booked in accept order, so either may hold it; an authorized client reconnects)"
            entry.input.logger.notice("\(message)", metadata: ["peer": "\(connection.peer)", "reason": "revoked_key"])
        }
    }

    private func recordDrop(_ connection: Connection, of entry: Watched) {
        entry.input.board.recordConnectionDropped()
        guard let suppressed = entry.dropLog.admit() else { return }
        var metadata: Logger.Metadata = ["peer": "\(connection.peer)"]
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        entry.input.logger.warning(
            "connection dropped: a frame above maxmsgsize, or no heartbeat from the peer", metadata: metadata)
    }

    private func closeAll(_ entry: Watched) {
        for connection in entry.connections.values where connection.duplicate >= 0 { close(connection.duplicate) }
        entry.connections = [:]
        entry.input.monitor.close()
    }

    /// `ip:port` of a TCP peer, the socket path for IPC (usually empty: the peer did not bind one).
    private func peerAddress(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return "?" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let family = Int32(storage.ss_family)
        if family == AF_UNIX { return "unix" }
        let named = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard named == 0 else { return "?" }
        let hostText = String(cString: host), port = String(cString: service)
        return family == AF_INET6 ? "[\(hostText)]:\(port)" : "\(hostText):\(port)"
    }

    /// Whether the peer is still there: no hang-up from its side, even if unread data waits
    /// (`POLLRDHUP` reports the peer's shutdown with data still queued, for TCP and Unix sockets).
    private func peerStillConnected(_ fd: Int32) -> Bool {
        var item = pollfd(fd: fd, events: Self.pollReadHangUp, revents: 0)
        guard poll(&item, 1, 0) >= 0 else { return false }
        return item.revents & (Self.pollReadHangUp | Int16(POLLHUP | POLLERR)) == 0
    }

    /// `POLLRDHUP` (Linux; Glibc exports it only with `_GNU_SOURCE`).
    private static let pollReadHangUp: Int16 = 0x2000
}

/// Moves a socket to the thread that will own it from then on.
private struct SocketBox: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
}
