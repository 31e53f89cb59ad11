import StageKit

/// How a pipeline cuts its input stream into batches (`batch:` in YAML).
public struct BatchConfiguration: Sendable, Equatable {
    /// Rows per full batch (`size`, default 256).
    public var size: Int
    /// A train batch with fewer rows runs in infer mode (`min_rows`, default `min(2, size)`: one
    /// row has variance 0, yet a `size: 1` pipeline, one row per batch, is a legitimate inference
    /// pipeline and must not be refused for a key its user never wrote).
    public var minRows: Int
    /// A partial batch is flushed after waiting this long for more rows (`max_latency`, default 50 ms).
    public var maxLatency: Duration

    public static let defaultSize = 256
    public static let defaultMinRows = 2
    public static let defaultMaxLatency = Duration.milliseconds(50)

    /// - Parameter minRows: `nil` takes the default, `min(2, size)`.
    public init(size: Int = defaultSize, minRows: Int? = nil, maxLatency: Duration = defaultMaxLatency) {
        self.size = size
        self.minRows = minRows ?? min(Self.defaultMinRows, size)
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
            reader.requireAtMost("size", size, ConfigLimits.maxBatchSize)
        {
            settings.size = size
        }
        let minRows = reader.int("min_rows", default: min(defaultMinRows, settings.size))
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
