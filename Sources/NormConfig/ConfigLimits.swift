/// The upper bound of every size, count and duration a configuration file may set, checked by
/// `normd validate` (and so by `run` and `apply`, which validate first). `Docs/LIMITS.md` gives the
/// reason for each one; keep the two in step.
///
/// Why bounds at all: every value in the file is external input. Without them a typo such as
/// `batch.size: 1000000000000` passed validation and then aborted `normd run` on allocation, and
/// `features: 4611686018427387904` crashed validation itself. With them, every product the daemon
/// computes from configured values (batch bytes, statistics per file, socket options in
/// milliseconds) fits in an `Int`/`Int32` by construction.
public enum ConfigLimits {
    // MARK: the file

    /// Bytes of a configuration file read before refusing it (4 MiB): a real file is a few KB;
    /// the largest legitimate one lists per-feature `gamma`/`beta`, which is bounded by
    /// `maxYAMLNodes` anyway.
    public static let maxFileBytes = 4 << 20
    /// YAML nodes after alias expansion (an alias counts its anchor's whole subtree every time it
    /// is used). A "billion laughs" file of 1 KB otherwise expands to 10⁹ nodes.
    public static let maxYAMLNodes = 1_000_000
    /// Nesting depth of YAML collections. A real configuration nests 6 levels; the YAML composer
    /// recurses once per level, so unbounded nesting would overflow the stack.
    public static let maxYAMLDepth = 64

    // MARK: pipelines

    /// Pipelines in one file (each has its own thread and sockets).
    public static let maxPipelines = 64
    /// Stages in one pipeline.
    public static let maxStages = 64
    /// Inputs of one pipeline (each is a socket polled by the pipeline's thread).
    public static let maxInputs = 64
    /// SUB topic prefixes of one input.
    public static let maxTopics = 1_024
    /// Bytes of a pipeline name: it appears in file names, log lines, metric labels and topics.
    public static let maxNameBytes = 128
    /// Bytes of an endpoint (`tcp://host:port`; `ipc://` paths are limited to 107 bytes by the
    /// kernel anyway, which libzmq reports at bind time).
    public static let maxEndpointBytes = 256
    /// Bytes of one topic prefix or output topic (sent as a frame before every batch).
    public static let maxTopicBytes = 256
    /// Bytes of the checkpoint `path` (PATH_MAX on Linux).
    public static let maxPathBytes = 4_096
    /// Bytes of `admin.listen` (`HOST:PORT`; a DNS name is at most 253 bytes, plus the port).
    public static let maxAdminListenBytes = 261
    /// Client keys read from `security.curve.authorized_keys` (each a file read at validation and
    /// on every re-read; the ZAP handler looks keys up in a set).
    public static let maxAuthorizedKeys = 10_000
    /// Entries of `security.curve.allow_ips`.
    public static let maxAllowIPs = 1_024

    /// Features per row (2²⁰). Validation builds every stage, allocating its per-feature statistics.
    public static let maxFeatures = 1 << 20
    /// `features × number of stages`, summed over every pipeline of the file (2²²): what
    /// validation and the daemon allocate for statistics is proportional to it (each stage keeps
    /// up to ~8 Float64 vectors per selected feature, so about 256 MiB at this bound).
    public static let maxStatisticsColumns = 1 << 22
    /// Rows per batch (2²⁰).
    public static let maxBatchSize = 1 << 20
    /// Bytes of one batch, `batch.size × features × 4` (256 MiB). The daemon holds a few copies of
    /// a batch at once (the batcher's buffer, the chain's output, the encoded frame, and at least
    /// two batches in the output queue), so this keeps one pipeline's working set near 1 GiB.
    public static let maxBatchBytes = 256 << 20

    // MARK: sockets

    /// `max_message_bytes` and `maxmsgsize` (256 MiB): a message need not be larger than the
    /// largest batch; libzmq buffers a whole message before normd sees it.
    public static let maxMessageBytes = 256 << 20
    /// `high_water_mark` in messages (the same cap the derived high-water mark has).
    public static let maxHighWaterMark = 100_000
    /// `queue_bytes` (1 GiB).
    public static let maxQueueBytes = 1 << 30
    /// Socket options in milliseconds (`linger`, `reconnect_ivl`, heartbeats): one day, which
    /// also fits libzmq's `int` options.
    public static let maxSocketMilliseconds = 86_400_000

    // MARK: durations

    /// `batch.max_latency`: a partial batch waits at most an hour.
    public static let maxLatency = Duration.seconds(3_600)
    /// `output.shutdown_timeout`: an hour (supervisors kill much sooner).
    public static let maxShutdownTimeout = Duration.seconds(3_600)
    /// `checkpoint.every_seconds`: a day.
    public static let maxCheckpointInterval = Duration.seconds(86_400)

    // MARK: checkpoints

    /// `checkpoint.every_batches` (10⁹).
    public static let maxEveryBatches = 1_000_000_000
    /// `checkpoint.keep`: generations listed, kept and pruned at every write.
    public static let maxKeep = 1_000

    /// `268435456 bytes = 256 MiB`: a limit in bytes as messages state it.
    static func bytesText(_ bytes: Int) -> String {
        if bytes >= 1 << 30, bytes % (1 << 30) == 0 { return "\(bytes) bytes = \(bytes >> 30) GiB" }
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes) bytes = \(bytes >> 20) MiB" }
        return "\(bytes) bytes"
    }

    /// Where every limit is explained; appended to each over-limit message.
    static let reference = "Docs/LIMITS.md"
}
