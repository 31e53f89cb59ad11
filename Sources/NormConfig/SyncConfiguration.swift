public import StageKit

/// A pipeline's `sync:` section: the pipeline is one member of a group whose members train together
/// from merged batch moments (SyncBatchNorm semantics, Docs/SYNC.md).
///
/// ```yaml
/// sync:
///   group: sensors            # members must run the same chain (fingerprints compared at join)
///   rank: 0                   # 0 ..< members.count, this member's place
///   members: [tcp://127.0.0.1:5570, tcp://127.0.0.1:5571, tcp://127.0.0.1:5572]
///   timeout: 2s               # how long a step waits for a missing member
/// ```
/// Rank `i` binds `members[i]`; every member lists the same endpoints in the same order.
public struct SyncConfiguration: Sendable, Equatable {
    public var group: String
    public var rank: Int
    /// One endpoint per rank (`tcp://host:port` or `ipc://path`).
    public var members: [String]
    public var timeout: Duration
    /// Per rank, that member's CURVE server public key (Z85) from `{endpoint, curve_server_key}`;
    /// `nil` where the entry is a plain endpoint (with `security: curve:` the member is then taken to
    /// use this daemon's own key pair, as a fleet sharing one key does).
    public var serverKeys: [String?]
    /// Where each `curve_server_key` was written, for the checks against `security:`.
    var serverKeySources: [(location: SourceLocation?, path: ConfigPath)] = []

    public init(group: String, rank: Int, members: [String], timeout: Duration = defaultTimeout, serverKeys: [String?]? = nil) {
        self.group = group
        self.rank = rank
        self.members = members
        self.timeout = timeout
        self.serverKeys = serverKeys ?? members.map { _ in nil }
    }

    public static func == (a: SyncConfiguration, b: SyncConfiguration) -> Bool {
        a.group == b.group && a.rank == b.rank && a.members == b.members && a.timeout == b.timeout && a.serverKeys == b.serverKeys
    }

    public static let defaultTimeout = Duration.seconds(2)
    /// A group's size is bounded: the leader holds one contribution per member and stage (see
    /// Docs/SYNC.md for the scaling model and what would change beyond this).
    public static let maxMembers = 256
    static let timeoutBound = DurationBound(
        allowsZero: false, floorRule: "must be > 0", maximum: .seconds(600),
        example: "a duration like \"2s\", \"500ms\" or a number of seconds")

    /// Reads `sync:`, reporting every problem at its key.
    /// - Returns: `nil` when a problem was reported.
    static func read(from reader: ParameterReader) -> SyncConfiguration? {
        let mark = reader.diagnostics.mark()
        let group = reader.optionalString("group")
        if let group, reader.requireLength("group", group, atMost: ConfigLimits.maxNameBytes) {
            reader.require(
                "group", !group.isEmpty && group.allSatisfy(PipelineConfiguration.nameCharacters.contains),
                "must be non-empty and use only letters, digits, '_', '.' and '-'")
        } else if !reader.contains("group") {
            reader.error("group", "missing; the name every member of the sync group shares")
        }
        var members: [String] = []
        var keys: [String?] = []
        var keySources: [(location: SourceLocation?, path: ConfigPath)] = []
        if let node = reader.value("members"), let items = node.listItems, !items.isEmpty {
            if reader.requireCount("members", items, atMost: maxMembers, of: "members") {
                (members, keys, keySources) = readMembers(items, reader: reader)
            }
        } else {
            reader.error("members", "missing; a list of one endpoint per rank, e.g. [tcp://127.0.0.1:5570, tcp://127.0.0.1:5571]")
        }
        let rank = reader.optionalInt("rank")
        if let rank {
            if !members.isEmpty {
                reader.require("rank", (0..<members.count).contains(rank), "must be from 0 to \(members.count - 1) (one rank per members entry)")
            } else {
                reader.require("rank", rank >= 0, "must be an integer >= 0")
            }
        } else if !reader.contains("rank") {
            reader.error("rank", "missing; this member's index in members (0-based)")
        }
        let timeout = reader.duration("timeout", timeoutBound) ?? defaultTimeout
        reader.finish()
        guard mark.noNewErrors, let group, let rank else { return nil }
        var configuration = SyncConfiguration(group: group, rank: rank, members: members, timeout: timeout, serverKeys: keys)
        configuration.serverKeySources = keySources
        return configuration
    }

    /// Each entry a `tcp://host:port` (a real port: the others connect to it) or `ipc://path`,
    /// within the endpoint length limit, and no endpoint twice; or `{endpoint, curve_server_key}`
    /// (the key file of that member's CURVE server, as `curve_server_key` of an endpoint).
    private static func readMembers(
        _ items: [ConfigNode], reader: ParameterReader
    ) -> ([String], [String?], [(location: SourceLocation?, path: ConfigPath)]) {
        var members: [String] = []
        var keys: [String?] = []
        var keySources: [(location: SourceLocation?, path: ConfigPath)] = []
        var seen: [String: Int] = [:]
        for (index, entry) in items.enumerated() {
            let path = reader.path(of: "members").appending(index: index)
            var item = entry
            var key: String?
            if entry.mapEntries != nil {
                let itemReader = ParameterReader(node: entry, path: path, diagnostics: reader.diagnostics)
                let security = EndpointSecurity.read(from: itemReader)
                if let location = security.curveLocation {
                    reader.diagnostics.error(at: location, path: path.appending("curve"), "a sync member always uses CURVE with 'security: curve:'")
                }
                key = security.serverKey
                if let location = security.serverKeyLocation { keySources.append((location, path.appending("curve_server_key"))) }
                guard let node = itemReader.value("endpoint") else {
                    itemReader.error(nil, "missing 'endpoint'")
                    itemReader.finish()
                    continue
                }
                item = node
                itemReader.finish()
            }
            func fail(_ message: String) { reader.diagnostics.error(at: item.location, path: path, message) }
            guard case .string(let endpoint) = item.value else {
                fail("expected an endpoint like \"tcp://127.0.0.1:5570\" or {endpoint, curve_server_key}, got \(item.value.typeName) \(item.quoted)")
                continue
            }
            guard endpoint.utf8.count <= ConfigLimits.maxEndpointBytes else {
                fail(tooLong(endpoint, limit: ConfigLimits.maxEndpointBytes)); continue
            }
            if endpoint.hasPrefix("tcp://") {
                let port = endpoint.split(separator: ":").last ?? ""
                guard endpoint.dropFirst(6).contains(":"), port.allSatisfy(\.isASCII), let number = Int(port), (1...65_535).contains(number) else {
                    fail("a member's tcp endpoint needs a port 1-65535 (the other members connect to it), got \(item.quoted)")
                    continue
                }
            } else if !(endpoint.hasPrefix("ipc://") && endpoint.count > 6) {
                fail("must start with tcp:// or ipc:// (members are separate processes), got \(item.quoted)")
                continue
            }
            if let first = seen[endpoint] {
                fail("is members[\(first)] again; every rank needs its own endpoint")
                continue
            }
            seen[endpoint] = index
            members.append(endpoint)
            keys.append(key)
        }
        return members.count == items.count ? (members, keys, keySources) : ([], [], [])
    }

    /// Refuses what cannot take part in a sync group, at the stage's own key: tf_keras ghost batches
    /// (`virtual_batch_size`, local by design) and stages that cannot train from merged moments
    /// (run-time plugins: the C ABI exposes no moments).
    static func checkStages(_ stages: ConfigNode, plans: [StagePlan], path: ConfigPath, diagnostics: ConfigDiagnostics) {
        let items = stages.listItems ?? []
        for plan in plans {
            let item = plan.position < items.count ? items[plan.position] : stages
            let itemPath = path.appending(index: plan.position)
            if let ghost = item.entry("virtual_batch_size"), !ghost.value.isNull {
                diagnostics.error(
                    at: ghost.value.location, path: itemPath.appending("virtual_batch_size"),
                    "cannot be used with sync: ghost batches are local to one member by design; remove it or remove sync:")
            } else if !plan.blueprint.synchronizable {
                let type = item.entry("type")?.value
                diagnostics.error(
                    at: type?.location ?? item.location, path: itemPath.appending("type"),
                    "'\(plan.kind)' cannot take part in sync: a run-time plugin stage exposes no batch moments through the stage ABI")
            }
        }
    }
}
