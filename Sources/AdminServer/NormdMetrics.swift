public import Prometheus
import Synchronization

/// Every metric normd exports (Docs/METRICS.md), registered once, at start: swift-prometheus calls
/// `fatalError` on a second registration that differs, and a label value that appears only after
/// its first event would make `rate()` miss that event — so every known `reason`, `mode` and
/// `result` is registered at 0 from the start.
///
/// Counters the pipelines already count (`PipelineCounts`) are set from their published snapshot at
/// each scrape (`set(_:to:)`, under the scrape lock): the data path never touches this registry for
/// them. Histograms and `normd_output_blocked_seconds_total` are recorded by the pipeline's thread
/// once per batch (not per row or message): a histogram record takes swift-prometheus' own lock,
/// uncontended except while a scrape copies that one histogram's ~20 buckets.
public final class NormdMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    /// Counters with an `input` label.
    public struct InputMetrics: Sendable {
        public let messagesReceived: Counter
        public let rowsReceived: Counter
        public let bytesReceived: Counter
        /// By `reason`; every known reason present.
        public let messagesRejected: [String: Counter]
    }

    public struct PipelineMetrics: Sendable {
        public let inputs: [InputMetrics]
        public let rowsDropped: [String: Counter]
        public let sequenceGaps: Counter
        public let messagesMissed: Counter
        public let sequenceRestarts: Counter
        /// By `mode` (`train`, `infer`): the mode each batch actually ran in.
        public let batchesPublished: [String: Counter]
        public let rowsPublished: Counter
        public let batchesPartial: Counter
        public let batchesDowngraded: Counter
        public let batchesDropped: Counter
        public let batchesFailed: Counter
        public let outputBlockedSeconds: Counter
        public let statsVersion: Gauge
        public let pendingRows: Gauge
        public let batchProcessSeconds: DurationHistogram
        public let batchLatencySeconds: DurationHistogram
        /// By `reason` (`unknown_key`, `address_denied`, `revoked_key`): peers or messages CURVE refused (issue 11).
        public let authFailures: [String: Counter]
        /// The pipeline's sync group member's metrics (SyncMetrics.swift); `nil` without `sync:`.
        public let sync: SyncMetrics?
    }

    /// The pipelines running now, by name (a reload adds and removes them: `register`, `unregister`).
    private let running = Mutex<[String: PipelineMetrics]>([:])
    private let rejectionReasons: [String]
    /// By `result` (`success`, `failure`).
    public let checkpointWrites: [String: Counter]
    public let checkpointLastSuccess: Gauge
    /// By `result`: reloads by SIGHUP or `POST /reload`.
    public let configReloads: [String: Counter]
    public let configLastReloadSuccessful: Gauge
    /// `process_resident_memory_bytes`: the resident set, the name every Prometheus client library's
    /// process collector uses.
    public let residentMemory: Gauge
    /// `normd_heap_bytes` by `state`: `in_use` (held by malloc's callers) and `free` (kept by glibc for
    /// reuse). The resident size is a high-water mark under normd's allocator policy; `in_use` falls
    /// back when the queues drain, so a leak is what keeps it up.
    public let heapBytes: [String: Gauge]
    public static let heapStates = ["in_use", "free"]

    /// Buckets of `normd_batch_process_seconds`: 1 µs … 1 s, about three per decade (a 64-row
    /// batch of 8 features takes a few µs, a 65 536-row batch of 1024 features hundreds of ms).
    public static let processBuckets: [Duration] = decades(from: -6, to: 0)
    /// Buckets of `normd_batch_latency_seconds`: 10 µs … 10 s (a partial batch waits up to
    /// `max_latency`, a blocked PUSH output as long as its consumer stalls).
    public static let latencyBuckets: [Duration] = decades(from: -5, to: 1)
    public static let rowDropReasons = ["non_finite", "stage_failed"]
    public static let modes = ["train", "infer"]
    public static let results = ["success", "failure"]
    /// The counts line's `auth_failures` reasons (Docs/SECURITY.md).
    public static let authFailureReasons = ["unknown_key", "address_denied", "revoked_key"]

    /// - Parameters:
    ///   - pipelines: each pipeline's name and number of inputs.
    ///   - rejectionReasons: every `reason` a message can be rejected for.
    ///   - version: `normd --version`'s text; `libzmq`: the library's version.
    ///   - syncMembers: the number of members of each pipeline with `sync:`, by pipeline name.
    public init(
        pipelines: [(name: String, inputs: Int)], rejectionReasons: [String], version: String, libzmq: String, syncMembers: [String: Int] = [:]
    ) {
        let registry = self.registry
        func byLabel(_ name: String, _ help: String, _ labels: [(String, String)], _ key: String, _ values: [String]) -> [String: Counter] {
            Self.byLabel(registry, name, help, labels, key, values)
        }
        self.rejectionReasons = rejectionReasons
        checkpointWrites = byLabel("normd_checkpoint_writes_total", "Checkpoint generations written, by result.", [], "result", Self.results)
        checkpointLastSuccess = registry.makeGauge(
            name: "normd_checkpoint_last_success_timestamp_seconds",
            help: "Unix time of the last checkpoint generation written (0: none yet this run).")
        configReloads = byLabel(
            "normd_config_reloads_total", "Configuration reloads (SIGHUP or POST /reload), by result.", [], "result", Self.results)
        configLastReloadSuccessful = registry.makeGauge(
            name: "normd_config_last_reload_successful",
            help: "1 if the last reload succeeded (or none was tried), else 0.")
        configLastReloadSuccessful.set(1.0)
        residentMemory = registry.makeGauge(name: "process_resident_memory_bytes", help: "Resident memory size in bytes.")
        heapBytes = Dictionary(
            uniqueKeysWithValues: Self.heapStates.map { state in
                (
                    state,
                    registry.makeGauge(
                        name: "normd_heap_bytes", labels: [("state", state)],
                        help: "malloc's heap: bytes held by its callers (in_use) and kept free for reuse (free).")
                )
            })
        registry.makeGauge(
            name: "normd_build_info", labels: [("version", version), ("libzmq", libzmq)],
            help: "Always 1; the labels say which normd and libzmq run."
        ).set(1.0)
        for (name, inputCount) in pipelines { register(pipeline: name, inputs: inputCount, syncMembers: syncMembers[name]) }
    }

    /// The series of a running pipeline; `nil` for a name not running.
    public func pipeline(named name: String) -> PipelineMetrics? {
        running.withLock { $0[name] }
    }

    /// Registers `name`'s series for `inputs` inputs (at start, and when a reload adds or re-binds
    /// the pipeline) and returns them. Idempotent: a series already registered under the same name
    /// and labels is returned as it is (swift-prometheus hands back the registered object), so a
    /// re-bound pipeline's counters are the same objects. Every series is made by this one function
    /// with the same help text, labels and buckets as at start: swift-prometheus calls `fatalError`
    /// on a second registration of a name whose help text or buckets differ. A re-bound pipeline
    /// with fewer inputs loses the series of the inputs it no longer has. `syncMembers` is the size
    /// of the pipeline's sync group (`nil` without `sync:`).
    @discardableResult
    public func register(pipeline name: String, inputs inputCount: Int, syncMembers: Int? = nil) -> PipelineMetrics {
        running.withLock { running in
            // A changed group (another member count, or none) starts its sync series afresh; the same one keeps them.
            if let previous = running[name]?.sync, previous.absences.count != syncMembers { unregister(previous) }
            let metrics = Self.makePipeline(registry, name: name, inputs: inputCount, rejectionReasons: rejectionReasons, syncMembers: syncMembers)
            if let previous = running[name], previous.inputs.count > inputCount {
                previous.inputs[inputCount...].forEach(unregister)
            }
            running[name] = metrics
            return metrics
        }
    }

    /// Stops exporting every series of `name` (a reload removed the pipeline). Prometheus' client
    /// guidance is to remove the series of a thing that is gone rather than export a final value
    /// forever; a later pipeline of the same name is registered afresh, its counters from 0 (which
    /// `rate()` reads as a counter reset).
    public func unregister(pipeline name: String) {
        running.withLock { running in
            guard let metrics = running.removeValue(forKey: name) else { return }
            metrics.inputs.forEach(unregister)
            let counters =
                [
                    metrics.sequenceGaps, metrics.messagesMissed, metrics.sequenceRestarts, metrics.rowsPublished, metrics.batchesPartial,
                    metrics.batchesDowngraded, metrics.batchesDropped, metrics.batchesFailed, metrics.outputBlockedSeconds,
                ]
                + metrics.rowsDropped.values + metrics.batchesPublished.values + metrics.authFailures.values
            counters.forEach(registry.unregisterCounter)
            [metrics.statsVersion, metrics.pendingRows].forEach(registry.unregisterGauge)
            [metrics.batchProcessSeconds, metrics.batchLatencySeconds].forEach(registry.unregisterDurationHistogram)
            if let sync = metrics.sync { unregister(sync) }
        }
    }

    private func unregister(_ sync: SyncMetrics) {
        ([sync.stepsCompleted, sync.staleDropped, sync.failovers, sync.rejoins] + sync.absences.values + sync.refusals.values)
            .forEach(registry.unregisterCounter)
        registry.unregisterDurationHistogram(sync.stepSeconds)
    }

    private func unregister(_ input: InputMetrics) {
        ([input.messagesReceived, input.rowsReceived, input.bytesReceived] + input.messagesRejected.values).forEach(registry.unregisterCounter)
    }

    private static func byLabel(
        _ registry: PrometheusCollectorRegistry, _ name: String, _ help: String, _ labels: [(String, String)], _ key: String, _ values: [String]
    ) -> [String: Counter] {
        Dictionary(uniqueKeysWithValues: values.map { ($0, registry.makeCounter(name: name, labels: labels + [(key, $0)], help: help)) })
    }

    /// Every per-pipeline series of `name` — the only place their names, help texts, labels and buckets are written.
    private static func makePipeline(
        _ registry: PrometheusCollectorRegistry, name: String, inputs inputCount: Int, rejectionReasons: [String], syncMembers: Int?
    ) -> PipelineMetrics {
        func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
            registry.makeCounter(name: name, labels: labels, help: help)
        }
        func byLabel(_ name: String, _ help: String, _ labels: [(String, String)], _ key: String, _ values: [String]) -> [String: Counter] {
            Self.byLabel(registry, name, help, labels, key, values)
        }
        let p = [("pipeline", name)]
        let inputs = (0..<inputCount).map { index -> InputMetrics in
            let labels = p + [("input", "\(index)")]
            return InputMetrics(
                messagesReceived: counter("normd_messages_received_total", "Messages read from the input, accepted or not.", labels),
                rowsReceived: counter("normd_rows_received_total", "Rows in the messages read that could be decoded, accepted or not.", labels),
                bytesReceived: counter("normd_bytes_received_total", "Bytes of every message read (all frames).", labels),
                messagesRejected: byLabel("normd_messages_rejected_total", "Messages refused, by reason.", labels, "reason", rejectionReasons))
        }
        return PipelineMetrics(
            inputs: inputs,
            rowsDropped: byLabel(
                "normd_rows_dropped_total", "Rows of accepted messages that were not published, by reason.", p, "reason", Self.rowDropReasons),
            sequenceGaps: counter("normd_sequence_gaps_total", "Producer seq numbers that skipped ahead.", p),
            messagesMissed: counter("normd_messages_missed_total", "Messages the seq gaps add up to.", p),
            sequenceRestarts: counter("normd_sequence_restarts_total", "Producer sequences that went backwards (a restart).", p),
            batchesPublished: byLabel(
                "normd_batches_published_total", "Batches handed to the output, by the mode they ran in.", p, "mode", Self.modes),
            rowsPublished: counter("normd_rows_published_total", "Rows in the published batches.", p),
            batchesPartial: counter("normd_batches_partial_total", "Batches flushed before they were full (max_latency, shutdown).", p),
            batchesDowngraded: counter("normd_batches_downgraded_total", "Train batches that ran in infer mode.", p),
            batchesDropped: counter("normd_batches_dropped_total", "Batches the output could not take.", p),
            batchesFailed: counter("normd_batches_failed_total", "Batches a stage failed on.", p),
            outputBlockedSeconds: counter(
                "normd_output_blocked_seconds_total", "Time spent waiting on a PUSH peer that applies back-pressure.", p),
            statsVersion: registry.makeGauge(
                name: "normd_stats_version", labels: p, help: "The statistics' version (changes with every train batch and restore)."),
            pendingRows: registry.makeGauge(name: "normd_pending_rows", labels: p, help: "Rows waiting in the partial batch."),
            batchProcessSeconds: registry.makeDurationHistogram(
                name: "normd_batch_process_seconds", labels: p, buckets: Self.processBuckets,
                help: "The stage chain's time per batch."),
            batchLatencySeconds: registry.makeDurationHistogram(
                name: "normd_batch_latency_seconds", labels: p, buckets: Self.latencyBuckets,
                help: "From the arrival of a batch's completing row to its publication."),
            authFailures: byLabel(
                "normd_auth_failures_total", "Connections and messages refused by CURVE authentication, by reason.",
                p, "reason", Self.authFailureReasons),
            sync: syncMembers.map { SyncMetrics(registry: registry, pipeline: name, members: $0) })
    }

    /// Sets a counter to a total counted elsewhere. Only the scrape (which holds the scrape lock
    /// while it sets and emits) calls this, so no reader sees the reset in between.
    public static func set(_ counter: Counter, to total: Int) {
        counter.reset()
        counter.increment(by: Int64(max(0, total)))
    }

    /// 1, 2.5, 5 × 10^k for k in `from..<to`, then 10^to.
    static func decades(from low: Int, to high: Int) -> [Duration] {
        var buckets: [Duration] = []
        for exponent in low..<high {
            let unit = Duration.nanoseconds(Int64(pow10(exponent + 9)))
            buckets += [unit, unit * 2.5, unit * 5]
        }
        return buckets + [.nanoseconds(Int64(pow10(high + 9)))]
    }

    private static func pow10(_ exponent: Int) -> Int { (0..<exponent).reduce(1) { value, _ in value * 10 } }
}
