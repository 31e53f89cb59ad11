/// Why saved statistics were refused for a pipeline: they were computed for a different stage,
/// row width or column selection, and using them would silently mis-normalize.
public struct StateRestoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public var pipeline: String
    /// The stage's position and kind when the mismatch is in one stage.
    public var stageIndex: Int?
    public var stageKind: String?
    public var reason: String

    public init(pipeline: String, stageIndex: Int? = nil, stageKind: String? = nil, reason: String) {
        self.pipeline = pipeline
        self.stageIndex = stageIndex
        self.stageKind = stageKind
        self.reason = reason
    }

    public var description: String {
        var where_ = "pipeline '\(pipeline)'"
        if let stageIndex { where_ += ", stages[\(stageIndex)]" }
        if let stageKind { where_ += " (\(stageKind))" }
        return "\(where_): \(reason)"
    }
}
