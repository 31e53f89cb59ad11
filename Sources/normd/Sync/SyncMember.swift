import AdminServer
import Foundation
import Logging
import NormConfig
import Pipeline
import Prometheus
import StageKit
import SyncProtocol
import ZeroMQ

/// One pipeline's membership in a sync group over ZeroMQ (Docs/SYNC.md): a ROUTER bound at
/// `members[rank]` (everything sent to this member), a DEALER connected to every other member's
/// ROUTER (everything this member sends; replies come back on it).
///
/// Single-threaded: the pipeline's thread drives it, blocking inside `exchange` during a step and
/// calling `serviceIdle` between batches (every `PipelineRunner.wakeInterval`), so a leader
/// collects, answers late members and serves snapshots even while its own trainer has sent nothing.
///
/// **Steps.** The leader of a step is the lowest rank in this member's view of the live ranks. For
/// each stage it collects contributions until every expected rank has sent one or `timeout` after
/// the first arrived, then merges those present in rank order and sends every present member the
/// result with the list of ranks present. Everyone adopts that list as its view, so all members that
/// took part agree on the next leader. A member that hears nothing from its leader within
/// `timeout + margin` drops it from its view and sends to the next lowest rank (failover); a
/// contribution arriving at a rank tells it that the sender considers every lower rank gone.
///
/// **Stale members.** Each message carries the hash of the merged state before its step. A
/// contribution for a step already merged, or whose hash differs from the leader's, is answered
/// `stale` (and counted); the member then asks a live member for a snapshot (its statistics, step
/// and hash), adopts it and contributes from the next step on. Until then its train batches run in
/// infer mode (`downgraded: "rejoining sync group"`).
final class SyncMember: StepSynchronizer {
    private let configuration: SyncConfiguration
    private let rank: Int
    private let fingerprint: UInt64
    /// Width and extremes flag of each stage's contributions, to check those from the network.
    private let shapes: [(features: Int, extremes: Bool)]
    private var logger: Logger
    private let router: ZMQSocket
    private var dealers: [Int: ZMQSocket] = [:]
    private let poller = ZMQPoller(capacity: 8)
    /// Poller index → rank whose dealer it is (`nil`: the router).
    private var pollRanks: [Int?] = []

    /// Ranks this member believes live; the leader is the lowest.
    private var view: Set<Int>
    /// The last step the group merged any stage of (0: none yet), the state hash before it and
    /// including every result merged so far.
    private var step: UInt64 = 0
    private var startHash: UInt64
    private var hash: UInt64
    /// The last step this member's chain learned; behind `step` means the group moved on without it.
    private(set) var chainStep: UInt64 = 0
    private var joined = true
    /// Ranks present at stage 0 of `step`: who the later stages wait for, and the header's members.
    private var stepPresent: [Int] = []
    /// The merged count of stage 0 of `step`: every later stage's result must agree with it (`SyncResultCheck`).
    private var firstStageCount: Int64 = 0
    /// The rank whose checkpoint this member's statistics are, while they are restored and not yet
    /// merged in a step (`nil` otherwise): decides between restored snapshots (`keepsRestoredState`).
    private var restoredFrom: Int?
    private var lastClosed: (step: UInt64, stage: Int)?

    private struct Collection {
        var step: UInt64
        var stage: Int
        var expected: Set<Int>
        /// Ranks that took part in the previous step: missing now means absent, even if a failover
        /// already took them out of the view (so they are not waited for).
        var previous: Set<Int>
        var got: [Int: MomentContribution] = [:]
        var routes: [Int: [UInt8]] = [:]
        var deadline: ContinuousClock.Instant
    }
    private var collection: Collection?
    /// Merged result of a collection this member led, for its own waiting `exchange`.
    private var ownResult: (step: UInt64, stage: Int, moments: MomentContribution)?
    /// Contributions for a later stage or step than the open collection (bounded: `members × 2`).
    private var buffered: [(route: [UInt8], message: SyncMessage)] = []
    /// Snapshot requests waiting for a step boundary.
    private var snapshotRequests: [[UInt8]] = []
    private var snapshotAskedAt: ContinuousClock.Instant?
    /// A snapshot received and not yet adopted (adopted at the next step boundary).
    private var pendingSnapshot: SyncMessage?
    private var snapshotTarget = 0

    private(set) var absences = 0
    private(set) var staleDropped = 0
    private(set) var refusals = 0
    private(set) var failovers = 0
    /// The same events on `/metrics` (`nil` without `admin:`).
    private let metrics: SyncMetrics?
    /// Time this step has spent in `exchange` so far (all stages), for `normd_sync_step_seconds`.
    private var exchangeTime: Duration = .zero
    /// The CURVE allow-list and the pipeline's counters (`nil` without `security: curve:`): a key
    /// removed from `authorized_keys` is refused on a connection opened before (see `isRevoked`).
    private let guarding: SocketFactory.Guarding?
    /// The pipeline's liveness meter (`nil` in tests without a runner). A member waiting for its
    /// group is making progress — every wait is bounded by `timeout` and the failover deadline — so
    /// each poll slice counts as a turn of the pipeline's loop, as the blocked output's wait does:
    /// `/healthz` must not call a member stuck (and an orchestrator restart it) for waiting out a
    /// `timeout` above its 10 s limit.
    private let liveness: PipelineControl?

    /// - Parameter guarding: with `security: curve:` (its `curve`), the ROUTER is a CURVE server behind
    ///   the daemon's ZAP allow-list and every DEALER a CURVE client of its member's key.
    init(
        configuration: SyncConfiguration, chain: StageChain, context: ZMQContext, logger: Logger, metrics: SyncMetrics? = nil,
        guarding: SocketFactory.Guarding? = nil, liveness: PipelineControl? = nil
    ) throws {
        self.metrics = metrics
        self.liveness = liveness
        self.configuration = configuration
        self.guarding = guarding?.curve == nil ? nil : guarding
        rank = configuration.rank
        fingerprint = Self.fingerprint(of: chain)
        shapes = chain.links.map { link in
            (features: link.columns.count, extremes: (link.stage as? any MomentSynchronizedStage)?.contributesExtremes ?? false)
        }
        self.logger = logger
        self.logger[metadataKey: "sync_group"] = "\(configuration.group)"
        self.logger[metadataKey: "rank"] = "\(configuration.rank)"
        view = Set(configuration.members.indices)
        let seed = FNV64()
        startHash = seed.value
        hash = seed.value
        router = try ZMQSocket(context: context, type: .router)
        do {
            try Self.configure(router)
            if let guarding { try SocketFactory.secureSyncRouter(router, guarding) }
            try router.bind(configuration.members[rank])
            pollRanks.append(nil)
            _ = poller.register(router, for: .pollIn)
            for (other, endpoint) in configuration.members.enumerated() where other != rank {
                let dealer = try ZMQSocket(context: context, type: .dealer)
                dealers[other] = dealer
                try Self.configure(dealer)
                try SocketFactory.secureSyncDealer(dealer, serverKey: configuration.serverKeys[other], curve: guarding?.curve)
                try dealer.setReconnectInterval(milliseconds: 100)
                try dealer.setReconnectIntervalMax(milliseconds: 1000)
                try dealer.connect(endpoint)
                pollRanks.append(other)
                _ = poller.register(dealer, for: .pollIn)
            }
        } catch {
            close()
            throw error
        }
        self.logger.info(
            "sync member bound",
            metadata: [
                "endpoint": "\(configuration.members[rank])", "members": "\(configuration.members.count)", "curve": "\(guarding?.curve != nil)",
                "fingerprint": "\(String(fingerprint, radix: 16))",
            ])
        // A restarted member must not step from its own (old or initial) statistics: every live
        // member that has merged a step answers with a snapshot, adopted before the first batch.
        for other in dealers.keys {
            send(
                SyncMessage(
                    kind: .snapshotRequest, rank: rank, group: configuration.group, step: 0, stage: 0, hash: hash,
                    fingerprint: fingerprint), to: other)
        }
    }

    private static func configure(_ socket: ZMQSocket) throws {
        try socket.setLinger(milliseconds: 0)
        try socket.setMaxMessageSize(Int64(ConfigLimits.maxMessageBytes))
    }

    func close() {
        router.close()
        for dealer in dealers.values { dealer.close() }
        logger.info(
            "sync member stopped",
            metadata: [
                "step": "\(step)", "absences": "\(absences)", "stale_dropped": "\(staleDropped)",
                "refusals": "\(refusals)", "failovers": "\(failovers)",
            ])
    }

    /// A hash of what makes two chains' statistics exchangeable: every stage's kind, fingerprint and columns.
    static func fingerprint(of chain: StageChain) -> UInt64 {
        var hasher = FNV64()
        hasher.add(UInt64(chain.featureCount))
        for link in chain.links {
            hasher.add(Array(link.stage.kind.utf8))
            for (key, value) in link.stage.fingerprint.sorted(by: { $0.key < $1.key }) {
                hasher.add(Array("\(key)=\(value);".utf8))
            }
            hasher.add(Array(link.columns.description.utf8))
        }
        return hasher.value
    }

    /// Counts a refusal (made or received) in the running total and by `reason` on `/metrics`.
    private func countRefusal(_ reason: String) {
        refusals += 1
        metrics?.refusals[reason]?.increment()
    }

    private var leader: Int { view.min() ?? rank }

    /// Continues from a checkpoint whose statistics are at group step `restored` (its `sync_step`),
    /// so step numbers (headers, later checkpoints) go on from there instead of restarting at 1.
    ///
    /// The checkpoint holds no state hash, so this member takes `H = FNV(seed, "restored", step,
    /// statistics)`: members of a group restarted together from checkpoints of the same step and
    /// identical statistics agree on it and step on; a member whose checkpoint is older, or whose
    /// statistics differ, disagrees with the group's hash and is answered `stale`, then adopts a
    /// snapshot — the group's statistics stay the truth. A live group's snapshot at the same step
    /// but another hash is adopted too (see `adopt`).
    func resume(at restored: UInt64, chain: StageChain) {
        guard restored > 0 else { return }
        step = restored
        chainStep = restored
        hash = Self.restoredHash(step: restored, states: chain.saveState())
        startHash = hash
        restoredFrom = rank
        logger.info("sync member resumes at the checkpoint's step", metadata: ["step": "\(restored)"])
    }
    private var margin: Duration { max(.milliseconds(250), configuration.timeout / 2) }

    // MARK: StepSynchronizer

    func beginStep(chain: StageChain) -> Bool {
        exchangeTime = .zero
        // A member whose key was revoked is no longer a leader to send to, nor waited for.
        if guarding?.curve?.mayHaveRevokedPeers == true { view = view.filter { $0 == rank || !isRevoked(rank: $0) } }
        pump(chain: chain, wait: .zero)
        if let snapshot = pendingSnapshot {
            pendingSnapshot = nil
            adopt(snapshot, chain: chain)
        }
        if joined && chainStep != step {
            becomeStale("the group merged step \(step) without this member (its chain is at step \(chainStep))")
        }
        if !joined { askForSnapshot() }
        return joined
    }

    func exchange(stage: Int, _ contribution: MomentContribution) throws(SyncStepError) -> MomentContribution {
        let started = ContinuousClock.now
        defer { exchangeTime += ContinuousClock.now - started }
        let target = chainStep + 1
        let before = stage == 0 ? hash : startHash
        var sentTo: Int?
        var waitUntil = ContinuousClock.now
        while true {
            if let result = ownResult, result.step == target, result.stage == stage {
                ownResult = nil
                return result.moments
            }
            if let closed = lastClosed, closed.step > target || (closed.step == target && closed.stage >= stage) {
                throw fail("step \(target) stage \(stage) was merged without this member")
            }
            if let snapshot = pendingSnapshot, snapshot.step > step {
                throw fail("the group is at step \(snapshot.step), ahead of this member")
            }
            if let reason = revokedWhileWaiting(on: sentTo, step: target, stage: stage) { throw fail(reason) }
            if leader == rank {
                contributeLocally(step: target, stage: stage, hash: before, contribution)
                // Wait for the others only while the stage is still open (a group of one, or the
                // last contribution, closes it at once).
                if ownResult == nil { pump(chain: nil, wait: .milliseconds(5)) }
                continue
            }
            if sentTo != leader {
                sentTo = leader
                send(
                    SyncMessage(
                        kind: .contribution, rank: rank, group: configuration.group, step: target, stage: stage,
                        hash: before, fingerprint: fingerprint, moments: contribution), to: leader)
                waitUntil = .now + configuration.timeout + margin
            }
            if let reply = pump(chain: nil, wait: .milliseconds(5), awaiting: (target, stage, leader)) {
                switch reply.kind {
                case .result:
                    if let problem = refusedResult(reply, step: target, stage: stage, own: contribution) {
                        throw fail("rank \(reply.rank)'s result for step \(target) stage \(stage) was refused: \(problem)")
                    }
                    guard let merged = reply.moments else { throw fail("rank \(reply.rank)'s result has no moments") }
                    record(step: target, stage: stage, merged)
                    if stage == 0 { stepPresent = reply.members }
                    view = Set(reply.members)
                    return merged
                case .refused:
                    countRefusal("refused_by_peer")
                    logger.error(
                        "sync group refused this member",
                        metadata: [
                            "leader": "\(reply.rank)", "reason": "\(String(decoding: reply.text, as: UTF8.self))",
                        ])
                    throw fail("refused by rank \(reply.rank)")
                default:
                    throw fail("rank \(reply.rank) answered stale: \(String(decoding: reply.text, as: UTF8.self))")
                }
            }
            if ContinuousClock.now >= waitUntil, let gone = sentTo {
                failovers += 1
                metrics?.failovers.increment()
                view.remove(gone)
                view.insert(rank)
                logger.warning(
                    "sync leader did not answer; taking the next live rank",
                    metadata: [
                        "leader": "\(gone)", "step": "\(target)", "stage": "\(stage)", "next_leader": "\(leader)",
                    ])
            }
        }
    }

    func finishStep(chain: StageChain, learned: Bool) -> SyncStamp? {
        guard joined else { return nil }
        guard learned else {
            becomeStale("a stage failed after the merge of step \(chainStep + 1)")
            return nil
        }
        chainStep += 1
        metrics?.stepsCompleted.increment()
        metrics?.stepSeconds.record(exchangeTime)
        serveSnapshots(chain: chain)
        return SyncStamp(step: chainStep, members: stepPresent)
    }

    /// Between batches: answer what arrived (contributions, late members, snapshot requests) and
    /// close a collection whose deadline passed, without waiting.
    func serviceIdle(chain: StageChain) {
        pump(chain: chain, wait: .zero)
        if let snapshot = pendingSnapshot {
            pendingSnapshot = nil
            adopt(snapshot, chain: chain)
        }
        if !joined { askForSnapshot() }
    }

    // MARK: state

    private func fail(_ reason: String) -> SyncStepError {
        becomeStale(reason)
        return .unavailable(reason)
    }

    private func becomeStale(_ reason: String) {
        guard joined else { return }
        joined = false
        snapshotAskedAt = nil
        logger.warning("sync member is stale; rejoining through a snapshot", metadata: ["reason": "\(reason)", "step": "\(step)"])
    }

    /// Folds a merged result into the state hash: `H_k = FNV(H_{k−1}, results of step k in stage order)`.
    private func record(step resultStep: UInt64, stage: Int, _ merged: MomentContribution) {
        if resultStep > step {
            step = resultStep
            startHash = hash
        }
        if stage == 0 { firstStageCount = merged.count }
        restoredFrom = nil
        var hasher = FNV64(hash)
        hasher.add(UInt64(stage))
        hasher.add(merged)
        hash = hasher.value
        lastClosed = (resultStep, stage)
    }

    // MARK: leading

    private func contributeLocally(step target: UInt64, stage: Int, hash before: UInt64, _ contribution: MomentContribution) {
        if collection == nil {
            open(step: target, stage: stage)
        }
        guard collection?.step == target, collection?.stage == stage else { return }
        collection?.got[rank] = contribution
        closeIfComplete(now: .now)
    }

    private func open(step target: UInt64, stage: Int) {
        let expected = stage == 0 ? view : Set(stepPresent)
        collection = Collection(
            step: target, stage: stage, expected: expected, previous: stage == 0 ? Set(stepPresent) : [],
            deadline: .now + configuration.timeout)
        // Contributions that arrived early for this stage count now.
        let early = buffered
        buffered = []
        for item in early { handleContribution(item.message, route: item.route) }
    }

    private func closeIfComplete(now: ContinuousClock.Instant) {
        guard let open = collection else { return }
        let complete = open.expected.isSubset(of: Set(open.got.keys))
        guard complete || now >= open.deadline else { return }
        collection = nil
        let present = open.got.keys.sorted()
        let missing = open.expected.union(open.previous).subtracting(present).sorted()
        if !missing.isEmpty {
            absences += missing.count
            for member in missing { metrics?.absences[member]?.increment() }
            logger.warning(
                "sync step completed without absent members",
                metadata: [
                    "step": "\(open.step)", "stage": "\(open.stage)", "absent": "\(missing)", "present": "\(present)",
                    "absences_total": "\(absences)",
                ])
        }
        let merged = MomentContribution.merge(present.map { open.got[$0]! })!
        // Every present member gets the same frame: encoded once (not at all in a group of one).
        let others = present.filter { $0 != rank }.compactMap { open.routes[$0] }
        if !others.isEmpty {
            var reply = SyncMessage(
                kind: .result, rank: rank, group: configuration.group, step: open.step, stage: open.stage,
                hash: open.stage == 0 ? hash : startHash, fingerprint: fingerprint, moments: merged)
            reply.members = present
            let frame = reply.encoded()
            for route in others { _ = try? router.sendMultipart([route, frame], flags: .dontWait) }
        }
        record(step: open.step, stage: open.stage, merged)
        if open.stage == 0 { stepPresent = present }
        view = Set(present)
        if open.got[rank] != nil { ownResult = (open.step, open.stage, merged) }
    }

    /// Refuses `message` when it comes from another group or from a member with another chain
    /// (fingerprint): counted by reason, logged as `logMessage` with the reason, and answered
    /// `.refused` so the sender logs it too. Returns whether it refused.
    private func refusedAsForeign(_ message: SyncMessage, route: [UInt8], logMessage: Logger.Message) -> Bool {
        let otherGroup = message.group != configuration.group
        guard otherGroup || message.fingerprint != fingerprint else { return false }
        countRefusal(otherGroup ? "other_group" : "other_chain")
        let reason =
            otherGroup
            ? "group '\(message.group)' is not this member's group '\(configuration.group)'"
            : "chain fingerprint \(String(message.fingerprint, radix: 16)) differs from this group's \(String(fingerprint, radix: 16))"
        logger.error(logMessage, metadata: ["from_rank": "\(message.rank)", "reason": "\(reason)"])
        reply(.refused, to: route, text: reason)
        return true
    }

    /// A contribution from `message.rank`, which takes this member as its step's leader.
    private func handleContribution(_ message: SyncMessage, route: [UInt8]) {
        guard !refusedAsForeign(message, route: route, logMessage: "refused a sync contribution") else { return }
        guard message.rank < configuration.members.count, message.rank != rank,
            let moments = message.moments, message.stage < shapes.count,
            moments.isValid(features: shapes[message.stage].features, extremes: shapes[message.stage].extremes)
        else {
            countRefusal("malformed")
            logger.error("refused a malformed sync contribution", metadata: ["from_rank": "\(message.rank)"])
            reply(.refused, to: route, text: "malformed contribution")
            return
        }
        // The sender takes this rank as leader: every lower rank is gone as far as it knows.
        if leader < rank && message.step > step {
            let gone = view.filter { $0 < rank }.sorted()
            view.subtract(gone)
            logger.warning("taking over as sync leader", metadata: ["from_rank": "\(message.rank)", "gone": "\(gone)", "step": "\(message.step)"])
        }
        let expectedHash: UInt64? =
            message.step == step + 1 && message.stage == 0
            ? hash
            : message.step == step && (lastClosed.map { $0.stage < message.stage } ?? true) ? startHash : nil
        if let open = collection, open.step == message.step, open.stage == message.stage {
            guard message.hash == (open.stage == 0 && open.step == step + 1 ? hash : startHash) else {
                return stale(message, route: route, "hash differs")
            }
            collection?.got[message.rank] = moments
            collection?.routes[message.rank] = route
            closeIfComplete(now: .now)
            return
        }
        guard let expectedHash else {
            if let open = collection, (message.step, message.stage) > (open.step, open.stage), buffered.count < 2 * configuration.members.count {
                buffered.append((route, message))
                return
            }
            return stale(message, route: route, "step \(message.step) stage \(message.stage) was already merged (group at step \(step))")
        }
        guard message.hash == expectedHash else { return stale(message, route: route, "hash differs") }
        guard collection == nil else {
            if buffered.count < 2 * configuration.members.count { buffered.append((route, message)) }
            return
        }
        open(step: message.step, stage: message.stage)
        collection?.got[message.rank] = moments
        collection?.routes[message.rank] = route
        closeIfComplete(now: .now)
    }

    private func stale(_ message: SyncMessage, route: [UInt8], _ reason: String) {
        staleDropped += 1
        metrics?.staleDropped.increment()
        logger.warning(
            "dropped a stale sync contribution",
            metadata: [
                "from_rank": "\(message.rank)", "step": "\(message.step)", "reason": "\(reason)", "stale_dropped_total": "\(staleDropped)",
            ])
        reply(.stale, to: route, text: reason)
    }

    private func reply(_ kind: SyncMessage.Kind, to route: [UInt8], text: String, members: [Int] = []) {
        var message = SyncMessage(
            kind: kind, rank: rank, group: configuration.group, step: step, stage: 0, hash: hash,
            fingerprint: fingerprint)
        message.text = Array(text.utf8)
        message.members = members
        _ = try? router.sendMultipart([route, message.encoded()], flags: .dontWait)
    }

    // MARK: snapshots

    private func askForSnapshot() {
        if let asked = snapshotAskedAt, ContinuousClock.now - asked < configuration.timeout { return }
        let others = trustedOthers()
        guard !others.isEmpty else {
            // A group of one is always current; one whose others are all revoked forgets a step it
            // did not finish (a stage merged by the revoked leader) and goes on from its own statistics.
            if step != chainStep {
                step = chainStep
                hash = startHash
            }
            lastClosed = nil
            joined = true
            return
        }
        let target = others[snapshotTarget % others.count]
        snapshotTarget += 1
        snapshotAskedAt = .now
        send(
            SyncMessage(
                kind: .snapshotRequest, rank: rank, group: configuration.group, step: step, stage: 0, hash: hash,
                fingerprint: fingerprint), to: target)
        logger.info("asking for a sync snapshot", metadata: ["from_rank": "\(target)"])
    }

    private func serveSnapshots(chain: StageChain) {
        guard !snapshotRequests.isEmpty else { return }
        let requests = snapshotRequests
        snapshotRequests = []
        guard joined, step > 0, chainStep == step, collection == nil,
            let states = try? JSONEncoder().encode(chain.saveState())
        else { return } // not current: the asker tries another
        for route in requests {
            var message = SyncMessage(
                kind: .snapshot, rank: rank, group: configuration.group, step: step, stage: 0, hash: hash,
                fingerprint: fingerprint)
            message.members = view.sorted()
            message.text = Array(states)
            _ = try? router.sendMultipart([route, message.encoded()], flags: .dontWait)
        }
        logger.info("served a sync snapshot", metadata: ["step": "\(step)", "requests": "\(requests.count)"])
    }

    private func adopt(_ snapshot: SyncMessage, chain: StageChain) {
        // A joined member takes a newer step, or the same step with another hash: a member resumed
        // from its checkpoint at the step a live group is still at holds a restored hash, not the group's.
        guard !joined || snapshot.step > step || (snapshot.step == step && snapshot.hash != hash) else { return }
        guard snapshot.fingerprint == fingerprint, snapshot.group == configuration.group,
            let states = try? JSONDecoder().decode([StageState].self, from: Data(snapshot.text))
        else {
            logger.error("could not adopt a sync snapshot", metadata: ["from_rank": "\(snapshot.rank)"])
            return
        }
        let restoredSnapshot = snapshot.hash == Self.restoredHash(step: snapshot.step, states: states)
        guard !keepsRestoredState(over: snapshot, restored: restoredSnapshot) else { return }
        guard (try? chain.restoreState(states)) != nil else {
            logger.error("could not adopt a sync snapshot", metadata: ["from_rank": "\(snapshot.rank)"])
            return
        }
        restoredFrom = restoredSnapshot ? snapshot.rank : nil
        step = snapshot.step
        chainStep = snapshot.step
        hash = snapshot.hash
        startHash = snapshot.hash
        view = Set(snapshot.members)
        lastClosed = nil
        collection = nil
        buffered = []
        joined = true
        metrics?.rejoins.increment()
        logger.info("rejoined the sync group", metadata: ["step": "\(step)", "from_rank": "\(snapshot.rank)", "members": "\(view.sorted())"])
    }

    /// `H = FNV-1a(seed, "restored", step, statistics as sorted JSON)`: the state hash of statistics
    /// restored from a checkpoint at `step` (which holds no hash). A snapshot whose hash is this of its
    /// own statistics is a restored, never merged state (see `keepsRestoredState`).
    static func restoredHash(step: UInt64, states: [StageState]) -> UInt64 {
        var hasher = FNV64()
        hasher.add(Array("restored".utf8))
        hasher.add(step)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        if let json = try? encoder.encode(states) { hasher.add(Array(json)) }
        return hasher.value
    }

    /// Whether this member keeps its statistics instead of adopting `snapshot` of the same step:
    /// both are restored from checkpoints (a whole group restarted from checkpoints of one step whose
    /// statistics differ) and the snapshot's sender ranks above the member whose checkpoint this
    /// member holds. So the lowest rank's checkpoint wins, as the lowest rank decides a step: every
    /// member adopts it (it asks every other member at start), and none adopts one of a higher rank
    /// afterwards, whatever order the snapshots arrive in. A merged (live group's) snapshot is always
    /// adopted: the group's statistics are the truth.
    private func keepsRestoredState(over snapshot: SyncMessage, restored: Bool) -> Bool {
        guard joined, restored, snapshot.step == step, let mine = restoredFrom, snapshot.rank > mine else { return false }
        logger.info(
            "kept the restored statistics of the lower rank",
            metadata: ["step": "\(step)", "from_rank": "\(snapshot.rank)", "restored_from_rank": "\(mine)"])
        return true
    }

    // MARK: sockets

    private func send(_ message: SyncMessage, to member: Int) {
        _ = try? dealers[member]?.send(message.encoded(), flags: .dontWait)
    }

    /// Polls up to `wait`, handles everything that arrived, closes an overdue collection. Returns
    /// the reply `awaiting` describes (a result, stale or refusal from that rank for that step and stage).
    @discardableResult
    private func pump(chain: StageChain?, wait: Duration, awaiting: (step: UInt64, stage: Int, from: Int)? = nil) -> SyncMessage? {
        liveness?.turned()
        var answer: SyncMessage?
        let milliseconds = Int(wait.components.seconds) * 1000 + Int(wait.components.attoseconds / 1_000_000_000_000_000)
        if (try? poller.poll(timeoutMilliseconds: milliseconds)) ?? 0 > 0 {
            var parts = ZMQMultipart(reservingCapacity: 2)
            for index in pollRanks.indices {
                let socket = pollRanks[index].flatMap { dealers[$0] } ?? router
                while (try? socket.receiveMultipart(into: &parts, flags: .dontWait)) == true {
                    let frames = parts.map(\.bytes)
                    if pollRanks[index] == nil {
                        guard frames.count == 2 else { continue }
                        if let key = revokedClientKey(parts[1]) {
                            refuseRevoked(key: key, frames[1], route: frames[0])
                            continue
                        }
                        handleRouter(frames[1], route: frames[0], chain: chain)
                    } else if let other = pollRanks[index], isRevoked(rank: other) {
                        refuseRevoked(rank: other)
                        continue
                    } else if frames.count == 1, let message = decode(frames[0]) {
                        if message.kind == .snapshot {
                            if message.step > (pendingSnapshot?.step ?? 0) || (!joined && pendingSnapshot == nil) { pendingSnapshot = message }
                            continue
                        }
                        if let awaiting, message.rank == awaiting.from,
                            (message.kind == .result && message.step == awaiting.step && message.stage == awaiting.stage)
                                || message.kind == .stale || message.kind == .refused
                        {
                            answer = message
                        } else if message.kind == .refused {
                            countRefusal("refused_by_peer")
                            logger.error(
                                "sync group refused this member",
                                metadata: [
                                    "from_rank": "\(message.rank)", "reason": "\(String(decoding: message.text, as: UTF8.self))",
                                ])
                        }
                    }
                }
            }
        }
        closeIfComplete(now: .now)
        if let chain { serveSnapshots(chain: chain) }
        return answer
    }

    private func handleRouter(_ bytes: [UInt8], route: [UInt8], chain: StageChain?) {
        guard let message = decode(bytes) else {
            countRefusal("undecodable")
            logger.error("refused an undecodable sync message", metadata: ["bytes": "\(bytes.count)"])
            return
        }
        switch message.kind {
        case .contribution:
            handleContribution(message, route: route)
        case .snapshotRequest:
            guard !refusedAsForeign(message, route: route, logMessage: "refused a member joining the sync group") else { return }
            if snapshotRequests.count < configuration.members.count { snapshotRequests.append(route) }
        default:
            break
        }
    }

    // MARK: result validation

    /// Checks the leader's `result` for `stage` of `step` against what this member knows
    /// (`SyncResultCheck`: its own contribution `own`, stage 0 of the same step). A result that fails
    /// is counted as `malformed` (`normd_sync_refusals_total{reason="malformed"}`), logged with the
    /// leader's rank and endpoint, and the problem returned: the caller must not train from it (the
    /// member goes stale and its batch goes out downgraded, `rejoining sync group`).
    private func refusedResult(_ reply: SyncMessage, step: UInt64, stage: Int, own: MomentContribution) -> String? {
        let check = SyncResultCheck(rank: rank, groupSize: configuration.members.count)
        let first = stage == 0 ? nil : SyncResultCheck.FirstStage(members: stepPresent, count: firstStageCount)
        guard let problem = check.problem(members: reply.members, merged: reply.moments, shape: shapes[stage], own: own, first: first) else {
            return nil
        }
        countRefusal("malformed")
        let endpoint = configuration.members.indices.contains(reply.rank) ? configuration.members[reply.rank] : "?"
        logger.error(
            "refused a sync result",
            metadata: ["from_rank": "\(reply.rank)", "endpoint": "\(endpoint)", "step": "\(step)", "stage": "\(stage)", "reason": "\(problem)"])
        return problem
    }

    // MARK: revocation

    /// The client key (Z85) of a message received on the ROUTER when that key is no longer in
    /// `authorized_keys`, else `nil`. ZAP checked the key only at the handshake, and libzmq 4.3
    /// cannot close one peer's connection, so each message's `User-Id` (the key the ZAP reply set)
    /// is checked against the current allow-list, as the inputs do — only once a reload has
    /// removed some key (before that, every admitted key is still listed).
    private func revokedClientKey(_ frame: ZMQMessage) -> String? {
        guard let curve = guarding?.curve, curve.mayHaveRevokedPeers else { return nil }
        let key = frame.property("User-Id") ?? ""
        return curve.isAuthorized(key) ? nil : key
    }

    /// Whether the member at `other` is no longer authorized: its DEALER is a CURVE client of that
    /// member's key (`curve_server_key`, or this daemon's own key), which ZAP never checks on this
    /// side, so what it sends (results, snapshots) is refused here once the key is removed.
    private func isRevoked(rank other: Int) -> Bool {
        guard let curve = guarding?.curve, curve.mayHaveRevokedPeers else { return false }
        return !curve.isAuthorized(configuration.serverKeys[other] ?? curve.settings.publicKey)
    }

    /// Why this member must give up the step it is in: the leader it sent its contribution to
    /// (`asked`) was revoked while it waited. Its result is dropped (`refuseRevoked(rank:)`), and
    /// taking over the stage now would mix that leader's earlier stages with this member's own
    /// merge, so the step fails: stale, the batch downgraded (`rejoining sync group`).
    private func revokedWhileWaiting(on asked: Int?, step: UInt64, stage: Int) -> String? {
        guard let asked, isRevoked(rank: asked) else { return nil }
        return
            "the key of rank \(asked), this step's leader, was removed from authorized_keys before its result of step \(step) stage \(stage) was accepted"
    }

    /// The other members a stale member may take a snapshot from: not those whose key was removed
    /// (their snapshots would be dropped). None left: this member is a group of one, as when every
    /// other member is gone, and says so.
    private func trustedOthers() -> [Int] {
        let others = (0..<configuration.members.count).filter { $0 != rank }
        let trusted = others.filter { !isRevoked(rank: $0) }
        if trusted.isEmpty && !others.isEmpty {
            logger.warning(
                "no trusted sync member to rejoin from; continuing as a group of one",
                metadata: ["revoked": "\(others)", "step": "\(step)"])
        }
        return trusted
    }

    /// Refuses a message a revoked member sent to this member's ROUTER: counted in the pipeline's
    /// `auth_failures{revoked_key}` (who sent it is why, as for an input), logged, and answered
    /// `.refused` so the revoked member stops waiting, goes stale and runs its batches downgraded
    /// instead of merging alone; the group's next steps go on without it.
    private func refuseRevoked(key: String, _ bytes: [UInt8], route: [UInt8]) {
        guarding?.board.recordAuthFailure("revoked_key")
        let reason = "client key \(CurveGate.prefix(key)) is no longer in authorized_keys"
        logger.error(
            "refused a sync message from a revoked key",
            metadata: ["from_rank": "\(decode(bytes).map { "\($0.rank)" } ?? "?")", "reason": "revoked_key", "detail": "\(reason)"])
        reply(.refused, to: route, text: reason)
    }

    /// Drops a message from a revoked member's ROUTER (a result or snapshot): counted and logged
    /// like `refuseRevoked(key:_:route:)`; it cannot be answered (this side is the DEALER).
    private func refuseRevoked(rank other: Int) {
        guarding?.board.recordAuthFailure("revoked_key")
        view.remove(other)
        view.insert(rank)
        logger.error(
            "dropped a sync message from a revoked member",
            metadata: ["from_rank": "\(other)", "reason": "revoked_key"])
    }

    private func decode(_ bytes: [UInt8]) -> SyncMessage? {
        SyncMessage.decode(bytes, maxFeatures: ConfigLimits.maxFeatures, maxMembers: SyncConfiguration.maxMembers)
    }
}
