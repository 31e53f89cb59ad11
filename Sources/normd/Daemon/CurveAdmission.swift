import Logging
import NormConfig
import Synchronization
import ZeroMQ

/// The daemon's CURVE identity and its current allow-list, shared by every pipeline's sockets,
/// ZAP handlers and receive loops.
///
/// The key set can be replaced while the daemon runs (``reloadAuthorizedKeys()``): the ZAP
/// handlers then refuse the removed keys at their next handshake, and the receive loops refuse
/// messages of connections admitted under a key that is no longer listed (``isAuthorized(_:)``
/// on the message's `User-Id`, which the ZAP reply set to the client key) — libzmq 4.3 cannot
/// close one peer's connection, so this is how a revoked producer is cut off without a restart.
final class CurveGate: Sendable {
    let settings: CurveSecurity
    private let keys: Mutex<Set<String>>
    private let allowIPs: Set<String>
    /// Re-reads that removed a key. While 0, every admitted connection's key is still listed (the
    /// set only ever grew), so the receive loops skip the per-message check: one relaxed load.
    private let revocations = Atomic<Int>(0)

    /// Whether a message's User-Id must be checked: some key was removed since the start.
    var mayHaveRevokedPeers: Bool { revocations.load(ordering: .relaxed) > 0 }

    /// Re-reads that removed a key so far: a change tells the output's guard to close the
    /// connections of removed keys.
    var revocationCount: Int { revocations.load(ordering: .relaxed) }

    init(_ settings: CurveSecurity) {
        self.settings = settings
        self.keys = Mutex(settings.authorizedKeys)
        self.allowIPs = Set(settings.allowIPs)
    }

    /// Whether `key` (Z85) is currently authorized.
    func isAuthorized(_ key: String) -> Bool {
        keys.withLock { $0.contains(key) }
    }

    /// Whether a peer at `address` (as ZAP reports it: numeric, no port; empty for IPC) may connect.
    func allowsAddress(_ address: String) -> Bool {
        allowIPs.isEmpty || CurveSecurity.normalizedIP(address).map(allowIPs.contains) ?? false
    }

    /// Re-reads `authorized_keys`; on failure the current keys stay (a half-written directory must
    /// not lock everybody out).
    /// - Returns: how many keys were added and removed.
    /// - Throws: ``KeyFileError`` naming the file.
    // RELOAD HOOK (issue 11 §2): the `reload` branch's SIGHUP path should call this; until it is
    // merged, DaemonSignals calls it on SIGHUP (one clearly-marked line there).
    @discardableResult
    func reloadAuthorizedKeys() throws(KeyFileError) -> (added: Int, removed: Int) {
        let fresh = try settings.rereadAuthorizedKeys()
        let change = keys.withLock { current in
            defer { current = fresh }
            return (added: fresh.subtracting(current).count, removed: current.subtracting(fresh).count)
        }
        if change.removed > 0 { revocations.add(1, ordering: .relaxed) }
        return change
    }

    /// The first 8 characters of a Z85 key: enough to tell keys apart in a log, and public anyway
    /// (only public keys are ever logged).
    static func prefix(_ key: String) -> String { String(key.prefix(8)) + "…" }
}

/// Admits a connection only if its mechanism is CURVE, its client key is authorized and (when
/// `allow_ips` is set) its address is listed. The ZAP reply's User-Id is the client key (Z85).
struct CurveAllowList: AdmissionPolicy {
    let gate: CurveGate

    func decide(_ request: AdmissionRequest) -> ZAP.Decision {
        guard request.zap.mechanism == "CURVE", let key = request.zap.credentials.first.flatMap(ZMQCurve.z85) else {
            return .refuse("mechanism \(request.zap.mechanism) is not CURVE", reason: "not_curve")
        }
        guard gate.isAuthorized(key) else {
            return .refuse("client key \(CurveGate.prefix(key)) is not in authorized_keys", reason: "unknown_key")
        }
        guard gate.allowsAddress(request.zap.address) else {
            return .refuse(
                "address \(request.zap.address.isEmpty ? "(ipc)" : request.zap.address) is not in allow_ips (key \(CurveGate.prefix(key)))",
                reason: "address_denied")
        }
        return .allow(userID: key)
    }
}

extension CurveGate {
    /// Re-reads `security.curve.authorized_keys` at the start of every reload (SIGHUP, `POST /reload`),
    /// before the configuration is resolved, so a revoked key is cut off even when the rest of the
    /// reload is refused; keys that cannot be read leave the previous ones, logged.
    func rereadAuthorizedKeys(requestedBy: String, logger: Logger) {
        do {
            let change = try reloadAuthorizedKeys()
            logger.notice(
                "authorized_keys re-read",
                metadata: [
                    "requested_by": "\(requestedBy)", "added": "\(change.added)", "removed": "\(change.removed)",
                ])
        } catch {
            logger.error("authorized_keys not re-read; the previous keys stay: \(error.message)", metadata: ["requested_by": "\(requestedBy)"])
        }
    }
}
