/// What a stage factory gets besides its own parameters.
public struct StageBuildContext: Sendable {
    /// Width of the columns this stage will see (after the `columns` selector).
    public var featureCount: Int
    /// The pipeline's `batch.size`, so a stage can check it against its own row multiple.
    public var batchSize: Int

    public init(featureCount: Int, batchSize: Int) {
        self.featureCount = featureCount
        self.batchSize = batchSize
    }
}

/// Binds one kind of stage to its configuration.
///
/// `bind` reads its parameters through the reader, reports every problem to the reader's
/// diagnostics, and returns `nil` if any was an error — it never throws for bad config, so a single
/// `normd validate` run lists all problems of all stages. What it returns, a `StageBlueprint`,
/// holds the parsed parameters: stages are built from it without reading the configuration again.
public struct StageFactory: Sendable {
    public var kind: String
    /// One line for `normd stages` and error messages.
    public var summary: String
    /// Every key the stage accepts, in reading order; empty for a plugin, whose keys only its
    /// own code knows.
    public var parameters: [ParameterSpec]
    public var bind: @Sendable (ParameterReader, StageBuildContext) -> StageBlueprint?

    public init(
        kind: String, summary: String, parameters: [ParameterSpec] = [],
        bind: @escaping @Sendable (ParameterReader, StageBuildContext) -> StageBlueprint?
    ) {
        self.kind = kind
        self.summary = summary
        self.parameters = parameters
        self.bind = bind
    }
}

/// Maps a YAML `type:` to the factory that builds it. Built-in stages and run-time plugins register
/// here the same way; the core knows no concrete stage.
public struct StageRegistry: Sendable {
    public private(set) var factories: [String: StageFactory] = [:]

    public init() {}

    public enum RegistrationError: Error, Equatable, CustomStringConvertible {
        case duplicateKind(String)
        public var description: String {
            switch self {
            case .duplicateKind(let kind): "a stage of type '\(kind)' is already registered"
            }
        }
    }

    public mutating func register(_ factory: StageFactory) throws(RegistrationError) {
        guard factories[factory.kind] == nil else { throw .duplicateKind(factory.kind) }
        factories[factory.kind] = factory
    }

    public var kinds: [String] { factories.keys.sorted() }

    public func factory(for kind: String) -> StageFactory? { factories[kind] }
}
