import AdminServer
import Checkpoint
import Foundation
import Logging
import NormConfig
import NormCore
import Pipeline
import Prometheus
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// The daemon's side of the admin server (`admin:`): answers its questions from what the pipelines
/// publish, relays the requests only a pipeline's thread can serve, and knows how far start-up got.
///
/// It exists from before the checkpoint is restored, so `/readyz` answers 503 while the statistics
/// are restored and the sockets bound, then 200.
final class DaemonAdmin: AdminBackend {
    let metrics: NormdMetrics
    private let logger: Logger
    private let stageKinds: [String: [String]]
    private let state: Mutex<State>
    /// How long an HTTP request waits for a pipeline's thread (blocked on a full PUSH output, it cannot answer).
    static let pipelineTimeout = Duration.seconds(5)

    private struct State {
        var loops: [PipelineLoop] = []
        var writer: CheckpointWriter?
        var restored = false
        /// Modes switched through the endpoint (or restored from a checkpoint): kept in checkpoints.
        var overrides: [String: Mode] = [:]
        var reloader: ReloadCoordinator?
        var names: [String]
    }

    init(pipelines: [PipelineConfiguration], stageKinds: [[String]], logger: Logger) {
        self.logger = logger
        self.stageKinds = Dictionary(uniqueKeysWithValues: zip(pipelines.map(\.name), stageKinds))
        let zmq = zmqVersion()
        metrics = NormdMetrics(
            pipelines: pipelines.map { ($0.name, $0.inputs.count) }, rejectionReasons: PipelineControl.rejectionReasons,
            version: NormdCommand.version, libzmq: "\(zmq.major).\(zmq.minor).\(zmq.patch)",
            syncMembers: Dictionary(uniqueKeysWithValues: pipelines.compactMap { p in p.sync.map { (p.name, $0.members.count) } }))
        state = Mutex(State(names: pipelines.map(\.name)))
    }

    // MARK: start-up, as RunCommand goes

    /// The checkpoint (if any) is restored; `overrides` are the modes it carried.
    func statisticsRestored(writer: CheckpointWriter?, overrides: [String: Mode]) {
        state.withLock {
            $0.restored = true
            $0.writer = writer
            $0.overrides = overrides
        }
    }

    /// `POST /reload` goes to the same coordinator as SIGHUP.
    func attach(reloader: ReloadCoordinator) {
        state.withLock { $0.reloader = reloader }
    }

    /// Counts a finished reload (SIGHUP or `POST /reload`) in `normd_config_reloads_total{result}`
    /// and `normd_config_last_reload_successful`.
    func record(reload result: ReloadResult) {
        metrics.configReloads[result.succeeded ? "success" : "failure"]?.increment()
        metrics.configLastReloadSuccessful.set(result.succeeded ? 1.0 : 0.0)
    }

    func reload() async -> ReloadAnswer {
        guard let reloader = state.withLock({ $0.reloader }) else {
            return ReloadAnswer(succeeded: false, body: ReloadResult.failure(problems: ["the daemon is still starting"]).json)
        }
        let result = await reloader.reload(requestedBy: "POST /reload")
        return ReloadAnswer(succeeded: result.succeeded, body: result.json)
    }

    /// A pipeline's sockets are bound or connected (its loop started).
    /// A reload's re-bound pipeline takes its predecessor's place; an added one comes last.
    func started(_ loop: PipelineLoop) {
        state.withLock { state in
            let name = loop.configuration.name
            state.loops.removeAll { $0.configuration.name == name }
            if !state.names.contains(name) { state.names.append(name) }
            let position = state.names.firstIndex(of: name)!
            let before = state.loops.filter { (state.names.firstIndex(of: $0.configuration.name) ?? .max) < position }.count
            state.loops.insert(loop, at: before)
        }
    }

    /// A reload is about to stop `loop`: its stop is not the daemon's shutdown, so /healthz stops
    /// looking at it first. A re-bound pipeline stays expected (/readyz says its sockets are not
    /// bound yet until its successor starts); a removed one (`removed`) is forgotten.
    /// A removed pipeline's series leave `/metrics` (Prometheus' client guidance: remove the series
    /// of a thing that is gone).
    func retired(_ loop: PipelineLoop, removed: Bool) {
        state.withLock { state in
            state.loops.removeAll { $0 === loop }
            if removed { state.names.removeAll { $0 == loop.configuration.name } }
        }
        if removed { metrics.unregister(pipeline: loop.configuration.name) }
    }

    // MARK: AdminBackend

    func unhealthyReasons() -> [String] {
        let loops = state.withLock { $0.loops }
        if loops.contains(where: \.isStopping) { return ["shutting down"] }
        let now = PipelineControl.monotonicNanos()
        return loops.compactMap { loop in
            if loop.isFinished { return "pipeline '\(loop.configuration.name)': its thread has ended" }
            guard now - loop.control.lastTurnNanos.current > PipelineControl.stuckAfterNanos else { return nil }
            return "pipeline '\(loop.configuration.name)': its thread has not come round its loop for more than "
                + "\(PipelineControl.stuckAfterNanos / 1_000_000_000) s (a stage that does not return?)"
        }
    }

    func notReadyReasons() -> [String] {
        let (restored, loops, names) = state.withLock { ($0.restored, $0.loops, $0.names) }
        if loops.contains(where: \.isStopping) { return ["shutting down"] }
        var reasons: [String] = []
        if !restored { reasons.append("statistics not restored yet") }
        let started = Set(loops.map(\.configuration.name))
        reasons += names.filter { !started.contains($0) }.map { "pipeline '\($0)': sockets not bound or connected yet" }
        return reasons
    }

    func pipelines() -> [PipelineSummary] {
        state.withLock { $0.loops }.map { loop in
            let control = loop.control
            let nanos = control.lastBatchNanos.current
            return PipelineSummary(
                name: loop.configuration.name, mode: control.mode.rawValue, statsVersion: UInt64(truncatingIfNeeded: control.statsVersion.current),
                batchSize: loop.liveConfiguration.batch.size, features: loop.configuration.features,
                stages: loop.liveConfiguration.stages.map(\.kind),
                counts: Dictionary(
                    uniqueKeysWithValues: loop.board.snapshot.fields.map { field in
                        switch field.value {
                        case .number(let value): (field.key, CountValue.number(value))
                        case .byReason(let table): (field.key, CountValue.byReason(table))
                        }
                    }),
                lastBatchAt: nanos == 0 ? nil : Self.rfc3339(nanos: nanos), statisticsFrom: loop.configuration.statisticsFrom?.pipeline)
        }
    }

    func statistics(of pipeline: String) async -> StatisticsAnswer {
        guard let loop = loop(named: pipeline) else { return .unknownPipeline }
        guard var record = await loop.control.statisticsRequests.ask((), timeout: Self.pipelineTimeout, isAlive: { !loop.isFinished }) else {
            return .unavailable(busy(pipeline))
        }
        record.mode = state.withLock { $0.overrides[pipeline] }
        do {
            return .record(try StateFile.canonicalBytes(of: record))
        } catch {
            return .unavailable("pipeline '\(pipeline)': \(error)")
        }
    }

    func switchMode(of pipeline: String, to text: String) async -> ModeAnswer {
        guard let loop = loop(named: pipeline) else { return .unknownPipeline }
        guard let mode = Mode(rawValue: text) else { return .unavailable("unknown mode \(text)") }
        if let source = loop.configuration.statisticsFrom {
            return .conflict("pipeline '\(pipeline)' takes its statistics from '\(source.pipeline)' (statistics_from) and always runs in infer mode")
        }
        guard let from = await loop.control.modeRequests.ask(mode, timeout: Self.pipelineTimeout, isAlive: { !loop.isFinished }) else {
            return .unavailable(busy(pipeline) + "; the mode is unchanged")
        }
        let writer = state.withLock { state -> CheckpointWriter? in
            state.overrides[pipeline] = mode
            return state.writer
        }
        writer?.setMode(mode, of: pipeline)
        return .switched(mode: mode.rawValue, fromBatch: from)
    }

    func checkpointNow() async -> CheckpointAnswer {
        guard let (writer, loops) = state.withLock({ state in state.writer.map { ($0, state.loops) } }) else { return .notConfigured }
        await CheckpointNow.offerSnapshots(of: loops, logKey: "requested_by", requestedBy: "POST /checkpoint", logger: logger)
        switch await writer.writeNowAndWait(requestedBy: "POST /checkpoint") {
        case .written(let generation):
            return .written(file: String(generation.path.split(separator: "/").last ?? ""), generation: generation.number)
        case .failed(let why):
            return .failed(why)
        }
    }

    func refreshMetrics() {
        let (loops, writer) = state.withLock { ($0.loops, $0.writer) }
        for loop in loops {
            // The series the loop was made with: a pipeline removed (unregistered) while this scrape
            // runs only sets objects no longer exported, never a successor's of the same name.
            guard let metrics = loop.control.histograms else { continue }
            let control = loop.control, counts = loop.board.snapshot
            for (index, input) in metrics.inputs.enumerated() where index < control.inputs.count {
                let meters = control.inputs[index]
                NormdMetrics.set(input.messagesReceived, to: meters.messages.current)
                NormdMetrics.set(input.rowsReceived, to: meters.rows.current)
                NormdMetrics.set(input.bytesReceived, to: meters.bytes.current)
                for (reasonIndex, reason) in PipelineControl.rejectionReasons.enumerated() {
                    if let counter = input.messagesRejected[reason] { NormdMetrics.set(counter, to: meters.rejected[reasonIndex].current) }
                }
            }
            for (reason, counter) in metrics.rowsDropped { NormdMetrics.set(counter, to: counts.rowsDropped[reason] ?? 0) }
            for (reason, counter) in metrics.authFailures { NormdMetrics.set(counter, to: counts.authFailures[reason] ?? 0) }
            NormdMetrics.set(metrics.sequenceGaps, to: counts.sequenceGaps)
            NormdMetrics.set(metrics.messagesMissed, to: counts.messagesMissed)
            NormdMetrics.set(metrics.sequenceRestarts, to: counts.sequenceRestarts)
            if let train = metrics.batchesPublished["train"] { NormdMetrics.set(train, to: control.publishedTrain.current) }
            if let infer = metrics.batchesPublished["infer"] { NormdMetrics.set(infer, to: control.publishedInfer.current) }
            NormdMetrics.set(metrics.rowsPublished, to: counts.rowsPublished)
            NormdMetrics.set(metrics.batchesPartial, to: counts.partialBatches)
            NormdMetrics.set(metrics.batchesDowngraded, to: counts.batchesDowngraded)
            NormdMetrics.set(metrics.batchesDropped, to: counts.batchesDropped)
            NormdMetrics.set(metrics.batchesFailed, to: counts.batchesFailed)
            metrics.outputBlockedSeconds.reset()
            metrics.outputBlockedSeconds.increment(by: Double(control.outputBlockedNanos.current) / 1e9)
            metrics.statsVersion.set(Double(UInt64(truncatingIfNeeded: control.statsVersion.current)))
            metrics.pendingRows.set(Double(control.pendingRows.current))
        }
        if let writer {
            let successes = writer.writeSuccesses
            if let success = metrics.checkpointWrites["success"] { NormdMetrics.set(success, to: successes.count) }
            if let failure = metrics.checkpointWrites["failure"] { NormdMetrics.set(failure, to: writer.writeFailures) }
            metrics.checkpointLastSuccess.set(successes.lastUnixTime ?? 0)
        }
        if let memory = ProcessMemory.now() {
            metrics.residentMemory.set(Double(memory.residentBytes))
            metrics.heapBytes["in_use"]?.set(Double(memory.heapInUseBytes))
            metrics.heapBytes["free"]?.set(Double(memory.heapFreeBytes))
        }
    }

    // MARK: helpers

    private func loop(named name: String) -> PipelineLoop? {
        state.withLock { $0.loops.first { $0.configuration.name == name } }
    }

    private func busy(_ pipeline: String) -> String {
        "pipeline '\(pipeline)' did not reach a batch boundary within \(Self.pipelineTimeout) (its output may be blocked, or it has stopped)"
    }

    /// `2026-12-03T11:25:12.345Z`.
    static func rfc3339(nanos: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(nanos) / 1e9))
    }
}
