import StageKit

/// How a pipeline cuts its input stream into batches (`batch:` in YAML).
public struct BatchConfiguration: Sendable, Equatable {
    /// Rows per full batch (`size`, default 256).
    public var size: Int
    /// A train batch with fewer rows runs in infer mode (`min_rows`, default 2: one row has variance 0).
    public var minRows: Int
    /// A partial batch is flushed after waiting this long for more rows (`max_latency`, default 50 ms).
    public var maxLatency: Duration

    public static let defaultSize = 256
    public static let defaultMinRows = 2
    public static let defaultMaxLatency = Duration.milliseconds(50)

    public init(size: Int = defaultSize, minRows: Int = defaultMinRows, maxLatency: Duration = defaultMaxLatency) {
        self.size = size
        self.minRows = minRows
        self.maxLatency = maxLatency
    }

    static let maxLatencyBound = DurationBound(
        allowsZero: false, floorRule: "must be > 0", maximum: ConfigLimits.maxLatency,
        example: "a duration like \"50ms\", \"2s\", \"500us\" or a number of seconds")

    /// Reads `batch:`; every problem goes to `reader`'s diagnostics and falls back to the default.
    /// - Parameter reader: the `batch:` mapping, or `nil` when absent (all defaults).
    static func read(from reader: ParameterReader?) -> BatchConfiguration {
        guard let reader else { return BatchConfiguration() }
        var settings = BatchConfiguration()
        let size = reader.int("size", default: defaultSize)
        if reader.require("size", size > 0, "must be an integer > 0"),
           reader.requireAtMost("size", size, ConfigLimits.maxBatchSize) {
            settings.size = size
        }
        let minRows = reader.int("min_rows", default: defaultMinRows)
        if reader.require("min_rows", minRows >= 1, "must be an integer >= 1") {
            if reader.require("min_rows", minRows <= settings.size, "must be <= batch.size (\(settings.size))") {
                settings.minRows = minRows
            }
        }
        if let latency = reader.duration("max_latency", maxLatencyBound) { settings.maxLatency = latency }
        reader.finish()
        return settings
    }
}
