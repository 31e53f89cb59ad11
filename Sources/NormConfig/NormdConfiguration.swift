public import StageKit

/// A validated normd configuration file, resolved: the plan every command runs from.
///
/// Validation resolves each pipeline's stages once (`StagePlan`: the factory bound to its parsed
/// parameters and columns), so `validate`, `apply` and `run` consume the same plan, chains are built
/// from it without the configuration tree or the stage registry, and a reload can compare two plans
/// stage by stage (`stagePlans`, `StagePlan.identity`).
///
/// Top-level sections are read by `read(root:registry:diagnostics:)`, one reader call each:
/// `pipelines`, `checkpoint`, and `plugins` (accepted there, loaded into the registry beforehand by
/// DynamicStages). A new section (`metrics`, `logging`) is one more property, one more call there,
/// and until then `finish()` reports it as an unknown key.
public struct NormdConfiguration: Sendable {
    public var pipelines: [PipelineConfiguration]
    /// `checkpoint:`; `nil` when absent (the daemon then keeps statistics in memory only).
    public var checkpoint: CheckpointConfiguration?
    /// `admin:`; `nil` when absent (no HTTP server).
    public var admin: AdminConfiguration?
    /// `security: curve:`; `nil` when absent (plain sockets). See SecurityConfiguration.swift.
    public var curve: CurveSecurity?

    public init(
        pipelines: [PipelineConfiguration], checkpoint: CheckpointConfiguration? = nil, admin: AdminConfiguration? = nil,
        curve: CurveSecurity? = nil
    ) {
        self.pipelines = pipelines
        self.checkpoint = checkpoint
        self.admin = admin
        self.curve = curve
    }

    /// Every pipeline's stages, pipeline by pipeline, in order.
    public var stagePlans: [StagePlan] { pipelines.flatMap(\.stages) }

    /// The pipeline called `name`.
    public func pipeline(named name: String) -> PipelineConfiguration? {
        pipelines.first { $0.name == name }
    }

    /// Loads and validates `path`, collecting every error and warning.
    /// - Parameter registry: the stage kinds `type:` may name (the caller's, so NormConfig knows no stage).
    public static func validate(file path: String, registry: StageRegistry) -> ConfigurationValidation {
        let diagnostics = ConfigDiagnostics()
        guard let root = YAMLConfigLoader.load(file: path, diagnostics: diagnostics) else {
            return ConfigurationValidation(configuration: nil, issues: diagnostics.issues)
        }
        return validate(root: root, registry: registry, diagnostics: diagnostics)
    }

    /// Validates YAML text; `file` only names the source in messages.
    public static func validate(yaml text: String, file: String, registry: StageRegistry) -> ConfigurationValidation {
        let diagnostics = ConfigDiagnostics()
        guard let root = YAMLConfigLoader.parse(text, file: file, diagnostics: diagnostics) else {
            return ConfigurationValidation(configuration: nil, issues: diagnostics.issues)
        }
        return validate(root: root, registry: registry, diagnostics: diagnostics)
    }

    /// Loads `path`, throwing every error at once; warnings are dropped (use `validate` to see them).
    public static func load(file path: String, registry: StageRegistry) throws(ConfigurationError) -> NormdConfiguration {
        let result = validate(file: path, registry: registry)
        guard let configuration = result.configuration else { throw ConfigurationError(issues: result.errors) }
        return configuration
    }

    /// Validates an already-parsed configuration; `diagnostics` may already hold issues (e.g. from
    /// loading the `plugins:` that `registry` includes), which are kept and sorted with the rest.
    public static func validate(root: ConfigNode, registry: StageRegistry, diagnostics: ConfigDiagnostics) -> ConfigurationValidation {
        let configuration = read(root: root, registry: registry, diagnostics: diagnostics)
        return ConfigurationValidation(configuration: diagnostics.hasErrors ? nil : configuration, issues: inSourceOrder(diagnostics.issues))
    }

    /// Issues sorted by position (stable), so the list reads top to bottom like the file.
    private static func inSourceOrder(_ issues: [ConfigIssue]) -> [ConfigIssue] {
        issues.enumerated().sorted { a, b in
            let left = (a.element.location?.line ?? 0, a.element.location?.column ?? 0, a.offset)
            let right = (b.element.location?.line ?? 0, b.element.location?.column ?? 0, b.offset)
            return left < right
        }.map(\.element)
    }

    static func read(root: ConfigNode, registry: StageRegistry, diagnostics: ConfigDiagnostics) -> NormdConfiguration? {
        let reader = ParameterReader(node: root, path: .root, diagnostics: diagnostics)
        let pipelines = readPipelines(reader, registry: registry)
        reader.accept("plugins") // loaded before the pipelines by the caller (DynamicStages), into `registry`
        let checkpoint = reader.nested("checkpoint").flatMap { CheckpointConfiguration.read(from: $0, configFile: root.location?.file) }
        let admin = reader.nested("admin").flatMap { AdminConfiguration.read(from: $0, configFile: root.location?.file) }
        let curve = readSecurity(reader, configFile: root.location?.file)
        reader.finish()
        guard let pipelines else { return nil }
        checkEndpointSecurity(pipelines, curve: curve, diagnostics: reader.diagnostics)
        StatisticsSource.check(pipelines, diagnostics: reader.diagnostics)
        return NormdConfiguration(pipelines: pipelines, checkpoint: checkpoint, admin: admin, curve: curve)
    }

    private static func readPipelines(_ reader: ParameterReader, registry: StageRegistry) -> [PipelineConfiguration]? {
        guard let node = reader.value("pipelines"), !node.isNull else {
            reader.error(nil, "missing 'pipelines' (a list of pipelines)")
            return nil
        }
        guard let items = node.listItems else {
            reader.error("pipelines", "expected a list of pipelines, got \(node.value.typeName)")
            return nil
        }
        guard !items.isEmpty else {
            reader.error("pipelines", "must list at least one pipeline")
            return nil
        }
        guard reader.requireCount("pipelines", items, atMost: ConfigLimits.maxPipelines, of: "pipelines") else { return nil }
        var pipelines: [PipelineConfiguration] = []
        var statisticsBudget = ConfigLimits.maxStatisticsColumns
        var firstByName: [String: (index: Int, line: Int?)] = [:]
        var ok = true
        for (index, item) in items.enumerated() {
            let path = reader.path(of: "pipelines").appending(index: index)
            let pipelineReader = ParameterReader(node: item, path: path, diagnostics: reader.diagnostics)
            // Duplicate names are checked on the raw text so they are reported even when the
            // pipeline has other errors.
            if let nameNode = item.entry("name")?.value, case .string(let name) = nameNode.value {
                if let first = firstByName[name] {
                    let line = first.line.map { " (line \($0))" } ?? ""
                    reader.diagnostics.error(
                        at: nameNode.location, path: path.appending("name"),
                        "duplicate pipeline name '\(ConfigNode.excerpt(name))', already used by pipelines[\(first.index)]\(line)")
                    ok = false
                } else {
                    firstByName[name] = (index, nameNode.location?.line)
                }
            }
            if let pipeline = PipelineConfiguration.read(from: pipelineReader, registry: registry, statisticsBudget: &statisticsBudget) {
                pipelines.append(pipeline)
            } else {
                ok = false
            }
        }
        return ok ? pipelines : nil
    }
}
